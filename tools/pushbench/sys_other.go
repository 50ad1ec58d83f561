//go:build !unix

package main

import "time"

// selfRusage is not available here: CPU and RSS figures read zero.
func selfRusage() (time.Duration, int64) { return 0, 0 }
