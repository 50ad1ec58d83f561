//go:build unix

package main

import (
	"runtime"
	"syscall"
	"time"
)

// selfRusage is this process's CPU time (user + system) and peak resident
// set size in KiB, from getrusage(RUSAGE_SELF).
func selfRusage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS == "darwin" {
		rss /= 1024 // bytes there, KiB on Linux
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rss
}
