package archtest

import "testing"

// fleetBinaries are the fleet's own binaries: the services (the webhook
// channel's sender among them) and the all-in-one.
// ServiceMainsImportOnlyAssembly holds them to the assembly.
var fleetBinaries = []string{
	"cmd/dispatcher", "cmd/apns-sender", "cmd/gcm-sender", "cmd/mi-sender", "cmd/hms-sender",
	"cmd/webpush-sender", "cmd/webhook-sender", "cmd/feedback-sink", "cmd/confirm-service",
	"cmd/pushfleet",
}

// wantBinaries are binaries the image must ship (Dockerfile: go build
// ./cmd/...; others may be added). The test fails if one goes missing, so
// that a rename cannot make the rules pass vacuously.
var wantBinaries = append([]string{"cmd/pushctl"}, fleetBinaries...)

// binaries are the module's production binaries: every main under cmd/.
func (g *graph) binaries() []*pkg {
	var bins []*pkg
	for _, p := range g.own {
		if under(p.rel(), "cmd") && p.Name == "main" {
			bins = append(bins, p)
		}
	}
	return bins
}

// No production binary links test code: not the testing package (its flags,
// its globals, its init), not a test helper such as providertest or
// net/http/httptest (which serves a certificate whose key is public).
// Tools (tools/…) and test-only packages are not production binaries.
func TestBinariesLinkNoTestCode(t *testing.T) {
	g := load(t)
	found := map[string]bool{}
	for _, bin := range g.binaries() {
		found[bin.rel()] = true
		for _, dep := range bin.Deps {
			p := g.pkgs[dep]
			if p == nil {
				t.Errorf("%s: dependency %s not in go list's output", bin.rel(), dep)
				continue
			}
			if isTestCode(p) {
				t.Errorf("%s links test code %s: %s", bin.rel(), dep, g.chain(bin.ImportPath, dep))
			}
		}
	}
	for _, b := range wantBinaries {
		if !found[b] {
			t.Errorf("binary %s not found under cmd/ (update wantBinaries if it moved on purpose)", b)
		}
	}
}

// cmd/ holds the binaries and nothing else: a library or a test-only
// package there would be built into the image by go build ./cmd/... or
// mistaken for a binary. Tools live in tools/, test-only packages in
// internal/.
func TestCmdHoldsOnlyBinaries(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		if under(p.rel(), "cmd") && p.Name != "main" {
			t.Errorf("%s is package %s, not a binary: move it to internal/ (or tools/)", p.rel(), p.Name)
		}
		if p.Name == "main" && !under(p.rel(), "cmd") && !under(p.rel(), "tools") {
			t.Errorf("%s is a binary outside cmd/ and tools/", p.rel())
		}
	}
}

func TestIsTestCode(t *testing.T) {
	for _, tc := range []struct {
		path     string
		standard bool
		want     bool
	}{
		{"testing", true, true},
		{"testing/synctest", true, true},
		{"net/http/httptest", true, true},
		{"internal/synctest", true, false},
		{"net/http", true, false},
		{module + "/pkg/provider/providertest", false, true},
		{module + "/internal/sandbox/sandboxtest", false, true},
		{"github.com/nats-io/nats-server/v2/test", false, true},
		{module + "/pkg/provider/fakeserver", false, false},
	} {
		if got := isTestCode(&pkg{ImportPath: tc.path, Standard: tc.standard}); got != tc.want {
			t.Errorf("isTestCode(%s) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
