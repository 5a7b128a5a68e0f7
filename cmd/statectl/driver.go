package main

import (
	"encoding/json"
	"errors"
	"flag"

	"github.com/wasmstate/wasmstate/driver"
)

// driverFlags are call's --driver and --json-arg.
type driverFlags struct {
	file    *string
	jsonArg *string
}

func addDriverFlags(fs *flag.FlagSet) *driverFlags {
	return &driverFlags{
		file:    fs.String("driver", "", "the contract's data driver, a wasm or WAT `FILE`: encodes --json-arg, decodes the result"),
		jsonArg: fs.String("json-arg", "", "the argument as `JSON`, encoded by --driver"),
	}
}

// driverCall is a loaded driver and the JSON argument to encode.
type driverCall struct {
	d       *driver.Driver
	jsonArg string
}

// load loads the driver when --driver is given. argSet says whether --arg
// was given too (they exclude each other when --json-arg is used).
func (f *driverFlags) load(c *cli, argSet bool) (*driverCall, error) {
	if *f.file == "" {
		if *f.jsonArg != "" {
			return nil, c.usagef("--json-arg needs --driver FILE to encode it")
		}
		return nil, nil
	}
	if argSet && *f.jsonArg != "" {
		return nil, c.usagef("give --arg or --json-arg, not both")
	}
	if *f.jsonArg != "" && !json.Valid([]byte(*f.jsonArg)) {
		return nil, badInputf("--json-arg %q: not valid JSON", clip(*f.jsonArg))
	}
	code, err := loadModule(c, *f.file)
	if err != nil {
		return nil, err
	}
	d, err := driver.Load(code, nil)
	if err != nil {
		return nil, badInputf("--driver %s: %v", *f.file, err)
	}
	return &driverCall{d: d, jsonArg: *f.jsonArg}, nil
}

// encode turns the JSON argument into the call's bytes (nil when only the
// result is to be decoded).
func (dc *driverCall) encode(fn string) ([]byte, bool, error) {
	if dc.jsonArg == "" {
		return nil, false, nil
	}
	b, err := dc.d.EncodeInput(fn, []byte(dc.jsonArg))
	if err != nil {
		return nil, false, driverError("encode the argument", err)
	}
	return b, true, nil
}

func (dc *driverCall) decode(fn string, data []byte) (json.RawMessage, error) {
	j, err := dc.d.DecodeOutput(fn, data)
	if err != nil {
		return nil, driverError("decode the result", err)
	}
	return j, nil
}

// driverError classifies a driver failure: the driver refusing the input is
// bad input (exit 2); a driver that misbehaves fails the command (exit 1).
func driverError(what string, err error) error {
	if errors.Is(err, driver.ErrDriverFailed) {
		return badInputf("driver: %s: %v", what, err)
	}
	return failf("driver: %s: %v", what, err)
}
