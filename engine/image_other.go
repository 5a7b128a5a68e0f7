//go:build !linux

package engine

type imageFile struct{}

func imagesAvailable() error                     { return errImagesOff }
func newImageFile(uint64) (imageFile, error)     { return imageFile{}, errImagesOff }
func (imageFile) writePage(uint64, []byte) error { return errImagesOff }
func (imageFile) mapOver([]byte) error           { return errImagesOff }
func (imageFile) mapAt([]byte, uint64) error     { return errImagesOff }
func (imageFile) close()                         {}

func freshOver([]byte) error   { return errImagesOff }
func noHugePages([]byte) error { return errImagesOff }
