package archtest

import (
	"slices"
	"strings"
	"testing"
)

// A rule says which direct imports of a package's non-test files are
// forbidden (tests may import more: pkg/events' tests use internal/natstest).
// docs/ARCHITECTURE.md explains each; change both together.
type rule struct {
	name string // the subtest's name
	why  string
	// applies selects the module's packages the rule is about.
	applies func(p *pkg) bool
	// forbids reports why imp may not be imported by p ("" = allowed).
	forbids func(p, imp *pkg) string
}

// What the fleet's binaries may import from this module: the assembly
// (fleet, allinone, providers), the shared configuration and the public
// packages, nothing below. A new package for the mains (say a shared process
// lifecycle) is added here on purpose.
var serviceMainMay = []string{"internal/fleet", "internal/allinone", "internal/config", "internal/providers", "pkg"}

// The assembly: what wires the services into processes. Only binaries,
// tools and the assembly itself may import it; a service importing it
// would be a back edge.
var assembly = []string{"internal/fleet", "internal/allinone", "internal/providers"}

// The services' handlers and the consumer runtime under them. The handlers
// import the runtime and never one another, the runtime none of them, so
// each can change alone.
var services = []string{"internal/consumer", "internal/dispatch", "internal/send", "internal/sink", "internal/confirm"}

// stateLayouts hold a service's stored state (keys, records) and its reads,
// apart from the service, so that a reader (`pushctl status`) needs neither
// the service nor its runtime.
var stateLayouts = []string{"internal/confirmstate"}

// serviceOf is the entry of services that r is in, or "".
func serviceOf(r string) string {
	for _, s := range services {
		if under(r, s) {
			return s
		}
	}
	return ""
}

func underAny(r string, dirs []string) bool {
	return slices.ContainsFunc(dirs, func(d string) bool { return under(r, d) })
}

var rules = []rule{
	{
		name:    "PkgImportsNoInternal",
		why:     "pkg/ is importable by other modules, so it never imports internal/",
		applies: func(p *pkg) bool { return under(p.rel(), "pkg") },
		forbids: func(_, imp *pkg) string {
			if under(imp.rel(), "internal") {
				return "internal package"
			}
			return ""
		},
	},
	{
		name:    "ProvidersImportNoNATS",
		why:     "providers speak HTTP to APNs/FCM/MiPush and know nothing of NATS",
		applies: func(p *pkg) bool { return under(p.rel(), "pkg/provider") },
		forbids: func(_, imp *pkg) string {
			if strings.HasPrefix(imp.ImportPath, "github.com/nats-io/") {
				return "NATS package"
			}
			return ""
		},
	},
	{
		name:    "EventsImportNoProvider",
		why:     "the wire contract (pkg/events) names no provider",
		applies: func(p *pkg) bool { return under(p.rel(), "pkg/events") },
		forbids: func(_, imp *pkg) string {
			if under(imp.rel(), "pkg/provider") {
				return "provider package"
			}
			return ""
		},
	},
	{
		name:    "ProductionImportsNoTestCode",
		why:     "production code imports no test code (testing, providertest, natstest, httptest…)",
		applies: func(p *pkg) bool { return !isTestCode(p) },
		forbids: func(_, imp *pkg) string {
			if isTestCode(imp) {
				return "test code"
			}
			return ""
		},
	},
	{
		name: "ServiceMainsImportOnlyAssembly",
		why: "the fleet's binaries (" + strings.Join(fleetBinaries, ", ") + ") hold flags and wiring: from this module they import only " +
			strings.Join(serviceMainMay, ", ") + ", and connect to NATS through internal/fleet",
		applies: func(p *pkg) bool { return slices.Contains(fleetBinaries, p.rel()) },
		forbids: func(_, imp *pkg) string {
			if r := imp.rel(); r != "" && !underAny(r, serviceMainMay) {
				return "not in serviceMainMay"
			}
			if strings.HasPrefix(imp.ImportPath, "github.com/nats-io/") {
				return "NATS package"
			}
			return ""
		},
	},
	{
		name:    "MainsRunNoHandlerDirectly",
		why:     "no binary wires a service's handler or the consumer runtime itself: internal/fleet assembles them (" + strings.Join(services, ", ") + ")",
		applies: func(p *pkg) bool { return p.Name == "main" && under(p.rel(), "cmd") },
		forbids: func(_, imp *pkg) string {
			if underAny(imp.rel(), services) {
				return "service handler or runtime"
			}
			return ""
		},
	},
	{
		name: "StateLayoutsLinkNoService",
		why: "a service's state layout (" + strings.Join(stateLayouts, ", ") + ") links no service handler or runtime (" +
			strings.Join(services, ", ") + "), even indirectly: binaries read the state through it",
		applies: func(p *pkg) bool { return underAny(p.rel(), stateLayouts) },
		forbids: func(_, imp *pkg) string {
			for _, ip := range append([]string{imp.ImportPath}, imp.Deps...) {
				if r := rel(ip); underAny(r, services) {
					return "links " + r
				}
			}
			return ""
		},
	},
	{
		name:    "PushctlRunsNoProvider",
		why:     "pushctl is a client of a running fleet: it runs no provider, sandbox or all-in-one",
		applies: func(p *pkg) bool { return p.rel() == "cmd/pushctl" },
		forbids: func(_, imp *pkg) string {
			if underAny(imp.rel(), []string{"internal/allinone", "internal/providers", "internal/sandbox", "pkg/provider"}) {
				return "provider, sandbox or all-in-one package"
			}
			return ""
		},
	},
	{
		name: "NoBackEdgeToAssembly",
		why:  "only binaries, tools, test helpers and the assembly itself import the assembly (" + strings.Join(assembly, ", ") + ")",
		applies: func(p *pkg) bool {
			r := p.rel()
			return !under(r, "cmd") && !under(r, "tools") && !underAny(r, assembly) && !isTestCode(p)
		},
		forbids: func(_, imp *pkg) string {
			if underAny(imp.rel(), assembly) {
				return "assembly package"
			}
			return ""
		},
	},
	{
		name:    "ServicesIndependent",
		why:     "internal/dispatch, internal/send, internal/sink and internal/confirm import none of one another, and their runtime internal/consumer none of them",
		applies: func(p *pkg) bool { return underAny(p.rel(), services) },
		forbids: func(p, imp *pkg) string {
			from, to := serviceOf(p.rel()), serviceOf(imp.rel())
			if to == "" || to == from || to == "internal/consumer" {
				return ""
			}
			return "another service"
		},
	},
}

func TestImportRules(t *testing.T) {
	g := load(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			applied := 0
			for _, p := range g.own {
				if !r.applies(p) {
					continue
				}
				applied++
				for _, ip := range p.Imports {
					imp := g.pkgs[ip]
					if imp == nil {
						t.Errorf("%s imports %s, not in go list's output", p.rel(), ip)
						continue
					}
					if why := r.forbids(p, imp); why != "" {
						t.Errorf("%s imports %s (%s)", p.rel(), short(ip), why)
					}
				}
			}
			if t.Failed() {
				t.Log("rule: " + r.why)
			}
			if applied == 0 {
				t.Errorf("the rule applies to no package: its selector is stale")
			}
		})
	}
}
