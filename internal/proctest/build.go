package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one go build of every binary a suite needs.
const buildTimeout = 5 * time.Minute

// Binaries builds a set of main packages once per test binary (without
// -race: they stand for production processes) into a temporary directory.
// Build them all in one go build: the linker runs in parallel.
type Binaries struct {
	// Packages are the import paths; each binary is named after its
	// package (nats-server for github.com/nats-io/nats-server/v2).
	Packages []string
	// Dir, when set, holds the binaries already built (another revision's,
	// to compare): nothing is built and Remove leaves it alone.
	Dir string

	once sync.Once
	dir  string
	err  error
}

// Path returns the path of the binary named name, building every binary
// on the first call. A build failure fails the test.
func (b *Binaries) Path(tb testing.TB, name string) string {
	tb.Helper()
	b.once.Do(b.build)
	if b.err != nil {
		tb.Fatal(b.err)
	}
	dir := b.dir
	if b.Dir != "" {
		dir = b.Dir
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("proctest: no binary %q among %v: %v", name, b.Packages, err)
	}
	return p
}

// Remove deletes the built binaries; call it from TestMain after m.Run.
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

func (b *Binaries) build() {
	if b.Dir != "" {
		return
	}
	dir, err := os.MkdirTemp("", "pushfleet-bin-")
	if err != nil {
		b.err = err
		return
	}
	b.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, b.Packages...)
	start := time.Now()
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		b.err = fmt.Errorf("go build: %v\n%s", err, out)
		return
	}
	names := make([]string, len(b.Packages))
	for i, p := range b.Packages {
		names[i] = BinaryName(p)
	}
	fmt.Printf("proctest: built %s in %.1fs\n", strings.Join(names, ", "), time.Since(start).Seconds())
}

// BinaryName is the name go build gives the binary of main package pkg:
// its last path element, or the one before a major version suffix (/v2).
func BinaryName(pkg string) string {
	base := path.Base(pkg)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		return path.Base(path.Dir(pkg))
	}
	return base
}
