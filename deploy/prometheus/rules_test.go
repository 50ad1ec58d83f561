// Package prometheus_test checks pushfleet's alerting rules: promtool's
// syntax check and unit tests (pushfleet-rules_test.yaml), the metrics and
// labels the rules use against the code, the runbook every alert links to,
// and the PrometheusRule copy in deploy/k8s/components/prometheusrule.
package prometheus_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/metrics/metricstest"
)

const (
	rulesFile      = "pushfleet-rules.yaml"
	rulesTestFile  = "pushfleet-rules_test.yaml"
	runbookFile    = "RUNBOOK.md"
	componentDir   = "../k8s/components/prometheusrule"
	ruleObjectFile = componentDir + "/prometheusrule.yaml"
)

var update = flag.Bool("update", false, "rewrite "+ruleObjectFile+" from "+rulesFile)

// targetLabels are added by Prometheus at scrape time, not by the code.
var targetLabels = []string{"job", "instance", "namespace", "pod"}

// severities are the only severity labels the rules may use.
var severities = []string{"critical", "warning"}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type group struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rulesDoc struct {
	Groups []group `json:"groups"`
}

func readRules(t *testing.T) rulesDoc {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var d rulesDoc
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if len(d.Groups) == 0 {
		t.Fatalf("%s holds no rule group", rulesFile)
	}
	return d
}

func (d rulesDoc) alerts() []rule {
	var out []rule
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestPromtool runs `promtool check rules` and `promtool test rules`. CI
// (.ci/run) installs promtool; elsewhere the test skips without it.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is not installed: CI must run the alert rules' unit tests. "+
				".ci/run installs it with Debian's prometheus package (apt-get install prometheus). %v", err)
		}
		t.Skipf("promtool is not installed (apt-get install prometheus); skipping the rules' promtool tests: %v", err)
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		cmd := exec.Command(promtool, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		} else {
			t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestAlertsDocumented checks every alert's labels and annotations, and that
// its runbook link names a section of RUNBOOK.md.
func TestAlertsDocumented(t *testing.T) {
	d := readRules(t)
	b, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,3} +(.+?)\s*$`).FindAllStringSubmatch(string(b), -1) {
		anchors[slug(m[1])] = true
	}
	seen := map[string]bool{}
	for _, r := range d.alerts() {
		if seen[r.Alert] {
			t.Errorf("alert %s is defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if !strings.HasPrefix(r.Alert, "Pushfleet") {
			t.Errorf("alert %s: name it Pushfleet…", r.Alert)
		}
		if s := r.Labels["severity"]; !slices.Contains(severities, s) {
			t.Errorf("alert %s: severity %q, want one of %v", r.Alert, s, severities)
		}
		for _, a := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s: no %s annotation", r.Alert, a)
			}
		}
		file, anchor, ok := strings.Cut(r.Annotations["runbook"], "#")
		if !ok || file != "deploy/prometheus/"+runbookFile {
			t.Errorf("alert %s: runbook %q, want deploy/prometheus/%s#<section>", r.Alert, r.Annotations["runbook"], runbookFile)
		} else if !anchors[anchor] {
			t.Errorf("alert %s: runbook section #%s is not a heading of %s", r.Alert, anchor, runbookFile)
		}
		if anchor != strings.ToLower(r.Alert) {
			t.Errorf("alert %s: runbook section #%s, want #%s (a section named after the alert)", r.Alert, anchor, strings.ToLower(r.Alert))
		}
	}
}

// slug is GitHub's anchor for a Markdown heading.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, c := range h {
		switch {
		case c == ' ':
			b.WriteByte('-')
		case c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		}
	}
	return b.String()
}

// TestAlertsUnitTested checks that pushfleet-rules_test.yaml evaluates every
// alert at least once where it fires and once where it must not.
func TestAlertsUnitTested(t *testing.T) {
	d := readRules(t)
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string            `json:"alertname"`
				ExpAlerts []json.RawMessage `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	if !slices.Equal(tf.RuleFiles, []string{rulesFile}) {
		t.Errorf("%s: rule_files %v, want [%s]", rulesTestFile, tf.RuleFiles, rulesFile)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, r := range d.alerts() {
		if !fires[r.Alert] {
			t.Errorf("%s: no case where %s fires", rulesTestFile, r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no case where %s must not fire", rulesTestFile, r.Alert)
		}
	}
}

var (
	metricName = regexp.MustCompile(`\bpushfleet_[a-z0-9_]+\b`)
	selector   = regexp.MustCompile(`\b(pushfleet_[a-z0-9_]+)\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
)

// TestRuleMetricsExist checks that every pushfleet_ metric a rule uses is one
// the services register, and every label it matches or groups by is one of
// that metric's labels or a target label.
func TestRuleMetricsExist(t *testing.T) {
	d := readRules(t)
	reg := metrics.New().Registry
	families := metricstest.Declared(t)
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			where := r.Alert + r.Record
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 && !strings.Contains(r.Expr, "up{") {
				t.Errorf("%s: %q names no pushfleet_ metric", where, r.Expr)
				continue
			}
			allowed := map[string]bool{}
			for _, l := range targetLabels {
				allowed[l] = true
			}
			for _, n := range names {
				if !metricstest.Registered(reg, n) {
					t.Errorf("%s: metric %s is not registered by metrics.New()", where, n)
					continue
				}
				f, ok := families[n]
				if !ok {
					t.Errorf("%s: metric %s: its labels are not declared by *metrics.Fleet or provider.NewMetrics", where, n)
					continue
				}
				if f.Histogram {
					t.Errorf("%s: %s is a histogram: use its _bucket, _sum or _count series", where, n)
				}
				for l := range f.Labels {
					allowed[l] = true
				}
			}
			for _, m := range selector.FindAllStringSubmatch(r.Expr, -1) {
				f := families[m[1]]
				for _, mm := range matcher.FindAllStringSubmatch(m[2], -1) {
					if !f.Labels[mm[1]] && !slices.Contains(targetLabels, mm[1]) {
						t.Errorf("%s: %s has no label %q (it has %v)", where, m[1], mm[1], f.LabelNames())
					}
				}
			}
			for _, gr := range grouping.FindAllStringSubmatch(r.Expr, -1) {
				for _, l := range strings.Split(gr[1], ",") {
					if l = strings.TrimSpace(l); l != "" && !allowed[l] {
						t.Errorf("%s: label %q is on none of %v", where, l, names)
					}
				}
			}
		}
	}
}

// ruleObjectHeader starts the generated PrometheusRule; the plain file's
// groups follow under spec.
const ruleObjectHeader = `# Generated from deploy/prometheus/pushfleet-rules.yaml: do not edit by hand.
# Edit that file, then run
#   go test ./deploy/prometheus -run TestPrometheusRule -update
# Change the release label with a patch in your overlay (kustomization.yaml).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: pushfleet
  labels:
    app.kubernetes.io/part-of: pushfleet
    # kube-prometheus-stack's Prometheus selects PrometheusRules on the label
    # release: <its Helm release name> (see kustomization.yaml).
    release: kube-prometheus-stack
spec:
`

// ruleObject renders the PrometheusRule holding the plain file's groups.
func ruleObject(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("\ngroups:"))
	if i < 0 {
		t.Fatalf("%s: no top-level groups:", rulesFile)
	}
	var out bytes.Buffer
	out.WriteString(ruleObjectHeader)
	for _, line := range strings.SplitAfter(string(b[i+1:]), "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString("  ")
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

// TestPrometheusRule checks that the kustomize component's PrometheusRule
// holds exactly the plain file's rules, with the release label
// kube-prometheus-stack selects on. -update rewrites it.
func TestPrometheusRule(t *testing.T) {
	if *update {
		if err := os.WriteFile(ruleObjectFile, ruleObject(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(ruleObjectFile)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec rulesDoc `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(b, &obj); err != nil {
		t.Fatalf("%s: %v", ruleObjectFile, err)
	}
	if obj.APIVersion != "monitoring.coreos.com/v1" || obj.Kind != "PrometheusRule" {
		t.Errorf("%s: %s %s, want monitoring.coreos.com/v1 PrometheusRule", ruleObjectFile, obj.APIVersion, obj.Kind)
	}
	if obj.Metadata.Labels["release"] == "" {
		t.Errorf("%s: no release label: kube-prometheus-stack's default ruleSelector would not load it", ruleObjectFile)
	}
	if want := readRules(t); !reflect.DeepEqual(obj.Spec, want) {
		t.Errorf("%s does not hold the rules of %s: run\n\tgo test ./deploy/prometheus -run TestPrometheusRule -update", ruleObjectFile, rulesFile)
	}
	if !bytes.Equal(b, ruleObject(t)) {
		t.Errorf("%s is not as generated from %s: run\n\tgo test ./deploy/prometheus -run TestPrometheusRule -update", ruleObjectFile, rulesFile)
	}

	k, err := os.ReadFile(filepath.Join(componentDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		Kind      string   `json:"kind"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(k, &kust); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", componentDir, err)
	}
	if kust.Kind != "Component" || !slices.Contains(kust.Resources, filepath.Base(ruleObjectFile)) {
		t.Errorf("%s/kustomization.yaml: want a Component listing %s, got kind %q resources %v",
			componentDir, filepath.Base(ruleObjectFile), kust.Kind, kust.Resources)
	}
}

// TestPrometheusRuleRenders renders an overlay (on the example's) that adds
// the component, as its kustomization.yaml tells operators to, and checks
// that the PrometheusRule takes the overlay's namespace.
func TestPrometheusRuleRenders(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is not installed (.ci/run installs it): %v", err)
		}
		t.Skipf("kubectl is not installed: %v", err)
	}
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, a)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: pushfleet\n" +
		"resources:\n  - " + abs("../k8s/overlays/example") + "\n" +
		"components:\n  - " + abs(componentDir) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize (example overlay + prometheusrule component): %v\n%s", err, stderr.String())
	}
	found := false
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "PrometheusRule" {
			found = true
			if obj.Metadata.Namespace != "pushfleet" {
				t.Errorf("PrometheusRule %s in namespace %q, want the overlay's (pushfleet)", obj.Metadata.Name, obj.Metadata.Namespace)
			}
		}
	}
	if !found {
		t.Errorf("no PrometheusRule in the rendered overlay:\n%s", out)
	}
}
