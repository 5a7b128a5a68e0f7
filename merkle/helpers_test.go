package merkle

import (
	"errors"
	"fmt"
)

func isMissing(err error) bool { return errors.Is(err, ErrMissingNode) }

func fmtSscanf(s, format string, args ...any) (int, error) { return fmt.Sscanf(s, format, args...) }
