// Package version tells which build of pushfleet is running: the release
// version and source revision stamped at build time, and the Go toolchain
// that built it. Every binary prints it with --version, and every process
// exports it as the pushfleet_build_info gauge (internal/metrics).
//
// Stamp a build with the linker:
//
//	go build -ldflags "-X github.com/pushfleet/pushfleet/internal/version.version=v1.2.3 \
//	  -X github.com/pushfleet/pushfleet/internal/version.revision=$(git rev-parse HEAD)" ./cmd/...
//
// Unstamped, the version is the module's (a `go install …@v1.2.3` build) or
// "devel", and the revision is the VCS revision Go recorded (vcs.revision,
// with "-dirty" for a modified tree; absent with -buildvcs=false) or
// "unknown".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags -X (see the package doc); a constant initial value
// keeps them settable by the linker.
var (
	version  = ""
	revision = ""
)

// Unknown values.
const (
	Devel           = "devel"
	UnknownRevision = "unknown"
)

// Info is one build's identity.
type Info struct {
	// Version is the release version (v1.2.3) or Devel.
	Version string
	// Revision is the source revision (a git commit) or UnknownRevision.
	Revision string
	// Go is the toolchain version (go1.26.8).
	Go string
}

// String is the line --version prints for binary name:
// "dispatcher v1.2.3 (revision 0123abc, go1.26.8, linux/amd64)".
func (i Info) String(name string) string {
	return fmt.Sprintf("%s %s (revision %s, %s, %s/%s)", name, i.Version, i.Revision, i.Go, runtime.GOOS, runtime.GOARCH)
}

var get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	return resolve(version, revision, bi, ok)
})

// Get is the running binary's Info.
func Get() Info { return get() }

// resolve prefers the linker's values, then what the Go toolchain
// recorded in the binary.
func resolve(ver, rev string, bi *debug.BuildInfo, ok bool) Info {
	i := Info{Version: ver, Revision: rev, Go: runtime.Version()}
	if ok && bi != nil {
		if bi.GoVersion != "" {
			i.Go = bi.GoVersion
		}
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		if i.Revision == "" {
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					i.Revision = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if i.Revision != "" && modified {
				i.Revision += "-dirty"
			}
		}
	}
	if i.Version == "" {
		i.Version = Devel
	}
	if i.Revision == "" {
		i.Revision = UnknownRevision
	}
	return i
}
