//go:build !linux

package dirty

func plainFactories() []memFactory { return nil }
