package engine

import (
	"context"
	"fmt"

	"github.com/wasmstate/wasmstate/codec"
	"github.com/wasmstate/wasmstate/merkle"
)

// Typed calls: contracts built with Dusk's SDK take and return rkyv
// archives; these helpers encode the argument and decode the result with
// codecs from package codec, so no caller packs bytes by hand:
//
//	v, r, err := engine.CallTyped(ctx, s, id, "add", uint64(10), codec.U64, codec.U64, gas)

// CallTyped calls fn of contract id with arg encoded by argCodec and
// decodes the result with resCodec. A result that does not decode is an
// error matching codec.ErrDecode; the receipt is still returned.
func CallTyped[A, R any](ctx context.Context, s *Session, id merkle.ContractID, fn string, arg A, argCodec codec.Codec[A], resCodec codec.Codec[R], gasLimit uint64) (R, *Receipt, error) {
	var zero R
	in, err := argCodec.Encode(arg)
	if err != nil {
		return zero, nil, fmt.Errorf("%w: encode argument of %s: %w", ErrBadInput, fn, err)
	}
	r, err := s.Call(ctx, id, fn, in, gasLimit)
	if err != nil {
		return zero, nil, err
	}
	out, err := resCodec.Decode(r.Data)
	if err != nil {
		return zero, r, fmt.Errorf("engine: decode result of %s: %w", fn, err)
	}
	return out, r, nil
}

// DeployTyped deploys code with an init argument encoded by initCodec.
func DeployTyped[A any](ctx context.Context, s *Session, code []byte, initArg A, initCodec codec.Codec[A], opts DeployOptions) (merkle.ContractID, error) {
	in, err := initCodec.Encode(initArg)
	if err != nil {
		return merkle.ContractID{}, fmt.Errorf("%w: encode init argument: %w", ErrBadInput, err)
	}
	opts.InitArg = in
	return s.Deploy(ctx, code, opts)
}
