//go:build !linux

package bench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPUTime falls back to the process's CPU time.
func threadCPUTime() time.Duration { return cpuTime() }

// threadMinflt is not measured here.
func threadMinflt() int64 { return 0 }
