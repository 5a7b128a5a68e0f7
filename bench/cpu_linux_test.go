package bench

import (
	"syscall"
	"time"
	"unsafe"
)

// Clock ids of clock_gettime(2).
const (
	clockProcessCPU = 2 // CLOCK_PROCESS_CPUTIME_ID
	clockThreadCPU  = 3 // CLOCK_THREAD_CPUTIME_ID
)

func clockNanos(id uintptr) time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// cpuTime is the CPU time (user + system) all threads of the process have
// used. Unlike wall time, it does not count the time other processes of a
// shared machine hold the CPUs.
func cpuTime() time.Duration { return clockNanos(clockProcessCPU) }

// threadCPUTime is the CPU time of the calling OS thread (lock the
// goroutine to its thread to use it).
func threadCPUTime() time.Duration { return clockNanos(clockThreadCPU) }

// threadMinflt is the number of minor page faults the calling OS thread
// has taken.
func threadMinflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return ru.Minflt
}
