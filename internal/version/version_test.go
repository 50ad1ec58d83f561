package version

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}}
	dirty := &debug.BuildInfo{GoVersion: "go1.99.1",
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	installed := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v0.3.0"}}
	tests := []struct {
		name     string
		ver, rev string
		bi       *debug.BuildInfo
		want     Info
	}{
		{"linker values win", "v1.2.3", "deadbeef", vcs, Info{"v1.2.3", "deadbeef", "go1.99.1"}},
		{"vcs revision", "", "", vcs, Info{Devel, "abc123", "go1.99.1"}},
		{"modified tree", "v1.2.3", "", dirty, Info{"v1.2.3", "abc123-dirty", "go1.99.1"}},
		{"go install module@version", "", "", installed, Info{"v0.3.0", UnknownRevision, "go1.99.1"}},
		{"no build info", "", "", nil, Info{Devel, UnknownRevision, runtime.Version()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.ver, tt.rev, tt.bi, tt.bi != nil); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGetInTest(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Revision == "" || !strings.HasPrefix(i.Go, "go") {
		t.Errorf("Get() = %+v: want every field set", i)
	}
}

// TestBuiltBinaryVersion builds two binaries (a service and the all-in-one) stamped as the Dockerfile
// stamps them and runs --version: first argument or among other flags, it
// prints one line naming the binary, version, revision and Go version, and
// exits 0 without connecting anywhere. PUSHFLEET_VERSION is no flag.
func TestBuiltBinaryVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	const pkg = "github.com/pushfleet/pushfleet/internal/version"
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+pkg+".version=v9.8.7-test -X "+pkg+".revision=0123456789abcdef",
		"-o", dir+string(filepath.Separator), "../../cmd/dispatcher", "../../cmd/pushfleet")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^(\S+) v9\.8\.7-test \(revision 0123456789abcdef, (go\S+), ` +
		regexp.QuoteMeta(runtime.GOOS+"/"+runtime.GOARCH) + `\)\n$`)
	for _, c := range []struct {
		bin  string
		args []string
	}{
		{"dispatcher", []string{"--version"}},
		{"dispatcher", []string{"-version"}},
		// after other flags, through config.Parse; the URL is never dialled
		{"dispatcher", []string{"--nats-url", "nats://192.0.2.1:1", "--version"}},
		// the all-in-one parses its own flag set (internal/allinone)
		{"pushfleet", []string{"--version"}},
		{"pushfleet", []string{"--demo", "5", "--version"}},
	} {
		cmd := exec.Command(filepath.Join(dir, c.bin), c.args...)
		cmd.Env = append(cmd.Environ(), "PUSHFLEET_NATS_URL=nats://192.0.2.1:1")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s %v: %v (want exit 0)\n%s", c.bin, c.args, err, stderr.String())
			continue
		}
		m := line.FindStringSubmatch(string(out))
		if m == nil || m[1] != c.bin || m[2] != runtime.Version() {
			t.Errorf("%s %v printed %q: want %q", c.bin, c.args, out, c.bin+" v9.8.7-test (revision 0123456789abcdef, "+runtime.Version()+", …)")
		}
	}
	// -h lists --version, without an environment twin.
	out, _ := exec.Command(filepath.Join(dir, "dispatcher"), "-h").CombinedOutput()
	if !strings.Contains(string(out), "\n  --version\n") || strings.Contains(string(out), "PUSHFLEET_VERSION") {
		t.Errorf("dispatcher -h: want --version listed without PUSHFLEET_VERSION:\n%s", out)
	}
}
