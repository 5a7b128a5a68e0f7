//go:build !linux

package engine

func dropPages([]byte) error { return errImagesOff }

func populate([]byte) {}
