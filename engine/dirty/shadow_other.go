//go:build !linux

package dirty

func allocShadow(length uint64) ([]byte, error) { return make([]byte, length), nil }

func growShadow(s []byte, length uint64) ([]byte, error) {
	n := make([]byte, length)
	copy(n, s)
	return n, nil
}

func freeShadow([]byte) {}
