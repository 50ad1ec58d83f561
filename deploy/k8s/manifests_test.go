// Package k8s_test checks the Kubernetes manifests offline: it renders every
// kustomization with `kubectl kustomize`, decodes each document strictly into
// its k8s.io/api type (a minimal local struct for the KEDA and Prometheus
// Operator kinds), and checks what no schema can: ports, probes, environment
// variables and stream names against the binaries and pkg/events, images
// against the Dockerfile's targets, and the secure overlay against
// deploy/nats-server/pushfleet-auth.conf (secure_test.go).
package k8s_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// kustomizations are rendered and checked, relative to this directory.
var kustomizations = []string{"base", "overlays/example", secureOverlay}

// secureOverlay is the least-privilege deployment of docs/SECURITY.md: it
// is also checked against deploy/nats-server/pushfleet-auth.conf.
const secureOverlay = "overlays/secure"

// consumers maps each Deployment to the streams and durable consumers it
// reads, each a KEDA trigger: the dispatcher's intents and its released
// schedules, each sender's jobs and its released re-queues (the custom
// channels' senders of base/ too), the sink's feedback, the confirmation
// service's feedback, watch records and confirmations, and released
// timers. Deployments, binaries and durables share their names
// (pkg/events).
func consumers() map[string][][2]string {
	m := map[string][][2]string{
		events.DurableDispatcher: {{events.StreamIntents, events.DurableDispatcher},
			{events.StreamSchedules, events.DurableDispatcher}},
		events.DurableFeedbackSink: {{events.StreamFeedback, events.DurableFeedbackSink}},
		events.DurableConfirm: {{events.StreamFeedback, events.DurableConfirm},
			{events.StreamConfirm, events.DurableConfirm}, {events.StreamConfirmTimers, events.DurableConfirm}},
	}
	for _, p := range events.Platforms { // customPlatforms included (init)
		m[events.SenderDurable(p)] = [][2]string{{events.SendStream(p), events.SenderDurable(p)},
			{events.RetryStream(p), events.SenderDurable(p)}}
	}
	return m
}

// customPlatforms are the channels base/ deploys a sender of, declared to
// every service by PUSHFLEET_PLATFORMS in base/config.env.
var customPlatforms = []events.Platform{"webhook"}

// The custom platforms are declared here as the services declare them, so
// that their stream and durable names are the ones pkg/events gives them.
func init() {
	if err := events.DeclarePlatforms(customPlatforms...); err != nil {
		panic(err)
	}
}

// imagePrefix starts every image name: pushfleet-<binary>, the Dockerfile
// target <binary>.
const imagePrefix = "pushfleet-"

// gateways are the Deployments that read no stream: scaled by an HPA.
var gateways = []string{"push-gateway"}

// binaries are every Deployment's binary.
func binaries() []string {
	names := slices.Collect(maps.Keys(consumers()))
	return append(names, gateways...)
}

// binDir is where the Dockerfile installs each target's binary.
const binDir = "/usr/local/bin/"

// shutdownSlack is what a process may still spend after its drain: the HTTP
// server's shutdown (5s, internal/fleet) and the NATS connection drain.
const shutdownSlack = 10 * time.Second

func TestManifests(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is not installed: this test renders deploy/k8s with `kubectl kustomize` "+
			"(kustomize is built into kubectl). Install kubectl (.ci/run does: apt-get install kubectl). %v", err)
	}
	bins := buildBinaries(t)
	values := readNATSValues(t)
	auth := readAuthConf(t)
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			cmd := exec.Command(kubectl, "kustomize", dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
			}
			m := decode(t, out)
			m.check(t, bins, values)
			if dir == secureOverlay {
				m.checkSecure(t, bins, auth)
			}
		})
	}
}

// binary is what a service binary's -h says about its flags.
type binary struct {
	env      map[string]bool   // every PUSHFLEET_* variable it reads
	defaults map[string]string // flag name → default
}

// buildBinaries builds every Deployment's binary once and asks each for its
// flags: config.Usage prints "--flag  [PUSHFLEET_FLAG] (default v)" lines.
func buildBinaries(t *testing.T) map[string]binary {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, name := range binaries() {
		args = append(args, "./cmd/"+name)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	line := regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)\s+\[(PUSHFLEET_[A-Z0-9_]+)\](?: \(default (.*)\))?$`)
	bins := map[string]binary{}
	for _, name := range binaries() {
		// -h exits non-zero (flag.ErrHelp); the usage is what matters.
		out, _ := exec.Command(filepath.Join(dir, name), "-h").CombinedOutput()
		b := binary{env: map[string]bool{}, defaults: map[string]string{}}
		for _, m := range line.FindAllStringSubmatch(string(out), -1) {
			b.env[m[2]] = true
			b.defaults[m[1]] = m[3]
		}
		for _, f := range []string{"nats-url", "http-addr", "drain-timeout"} {
			if _, ok := b.defaults[f]; !ok {
				t.Fatalf("%s -h lists no --%s; is the usage format of internal/config/env.go still parsed here?\n%s", name, f, out)
			}
		}
		bins[name] = b
	}
	return bins
}

// natsValues are the fields of nats-values.yaml the manifests depend on.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool `json:"enabled"`
				PVC     struct {
					Enabled bool   `json:"enabled"`
					Size    string `json:"size"`
				} `json:"pvc"`
			} `json:"fileStore"`
		} `json:"jetstream"`
		Monitor struct {
			Enabled bool `json:"enabled"`
			Port    int  `json:"port"`
		} `json:"monitor"`
	} `json:"config"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
}

// readNATSValues reads the chart values. Not strictly: the chart, not this
// test, owns their schema.
func readNATSValues(t *testing.T) natsValues {
	t.Helper()
	b, err := os.ReadFile("nats-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v natsValues
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("nats-values.yaml: %v", err)
	}
	c := v.Config
	switch {
	case !c.Cluster.Enabled || c.Cluster.Replicas < 3:
		t.Errorf("nats-values.yaml: want config.cluster.enabled with at least 3 replicas, got %+v", c.Cluster)
	case !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || !c.JetStream.FileStore.PVC.Enabled:
		t.Errorf("nats-values.yaml: want config.jetstream with a file store on a PVC, got %+v", c.JetStream)
	case !c.Monitor.Enabled || c.Monitor.Port == 0:
		t.Errorf("nats-values.yaml: want config.monitor enabled with a port (KEDA reads /jsz), got %+v", c.Monitor)
	case !v.PodDisruptionBudget.Enabled:
		t.Errorf("nats-values.yaml: want podDisruptionBudget.enabled")
	}
	return v
}

// scaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject these
// manifests use; decoding strictly into it rejects any other field.
type scaledObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Triggers        []struct {
			Type string `json:"type"`
			// KEDA wants every metadata value as a string: a bare number is an
			// error here as it is in the cluster.
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// natsTriggerKeys are the nats-jetstream scaler's metadata keys (KEDA docs).
var natsTriggerKeys = []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer",
	"lagThreshold", "activationLagThreshold", "useHttps"}

// podMonitor is the part of the Prometheus Operator's PodMonitor used here.
type podMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path,omitempty"`
			Interval string `json:"interval,omitempty"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// manifests are one rendered kustomization, by kind.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
	scaled      []*scaledObject
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	podMonitors []*podMonitor
	jobs        []*batchv1.Job
	netpols     []*networkingv1.NetworkPolicy
	namespaces  []*corev1.Namespace
	namespaced  map[string]string // "Kind/name" → metadata.namespace
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeStrict decodes one YAML document as kubectl apply sends it: YAML to
// JSON without looking at the target type (yaml.UnmarshalStrict would turn
// `lagThreshold: 100` into the string the API server rejects), duplicate
// keys rejected, then JSON with unknown fields rejected.
func decodeStrict(doc []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// decode splits the rendered YAML and decodes every document strictly:
// unknown or duplicate fields fail, as kubectl apply --validate=strict would.
func decode(t *testing.T, out []byte) *manifests {
	t.Helper()
	m := &manifests{deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{},
		namespaced: map[string]string{}}
	for _, doc := range docSep.Split(string(out), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document without apiVersion/kind: %v\n%s", err, doc)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Namespace":
			obj = &corev1.Namespace{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "autoscaling/v2 HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		case "keda.sh/v1alpha1 ScaledObject":
			obj = &scaledObject{}
		case "monitoring.coreos.com/v1 PodMonitor":
			obj = &podMonitor{}
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		default:
			t.Errorf("unexpected %s %s: add its type to decode()", tm.APIVersion, tm.Kind)
			continue
		}
		if err := decodeStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: strict decode: %v\n%s", tm.Kind, err, doc)
			continue
		}
		var meta metav1.ObjectMeta
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments[o.Name], meta = o, o.ObjectMeta
		case *corev1.Service:
			m.services, meta = append(m.services, o), o.ObjectMeta
		case *corev1.ConfigMap:
			m.configMaps[o.Name], meta = o, o.ObjectMeta
		case *corev1.Namespace:
			m.namespaces = append(m.namespaces, o)
			continue
		case *policyv1.PodDisruptionBudget:
			m.pdbs, meta = append(m.pdbs, o), o.ObjectMeta
		case *scaledObject:
			m.scaled, meta = append(m.scaled, o), o.Metadata
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas, meta = append(m.hpas, o), o.ObjectMeta
		case *podMonitor:
			m.podMonitors, meta = append(m.podMonitors, o), o.Metadata
		case *batchv1.Job:
			m.jobs, meta = append(m.jobs, o), o.ObjectMeta
		case *networkingv1.NetworkPolicy:
			m.netpols, meta = append(m.netpols, o), o.ObjectMeta
		}
		if meta.Name == "" {
			t.Errorf("%s without a name", tm.Kind)
		}
		m.namespaced[tm.Kind+"/"+meta.Name] = meta.Namespace
	}
	return m
}

func (m *manifests) check(t *testing.T, bins map[string]binary, values natsValues) {
	want := consumers()
	for name := range want {
		if m.deployments[name] == nil {
			t.Errorf("no Deployment %q", name)
		}
	}
	for name, d := range m.deployments {
		b, ok := bins[name]
		if !ok {
			t.Errorf("Deployment %q: no binary cmd/%s (Deployments are named after their binary)", name, name)
			continue
		}
		t.Run(name, func(t *testing.T) { m.checkDeployment(t, d, b, values) })
	}
	m.checkPlatformsDeclared(t)
	m.checkScaledObjects(t, want, values)
	m.checkHPAs(t)
	m.checkPodMonitors(t)
	m.checkJobs(t)
	m.checkRelease(t)
	// With a Namespace object (an overlay), everything lives in it.
	for _, ns := range m.namespaces {
		for obj, got := range m.namespaced {
			if got != ns.Name {
				t.Errorf("%s is in namespace %q, want %q", obj, got, ns.Name)
			}
		}
	}
}

func (m *manifests) checkDeployment(t *testing.T, d *appsv1.Deployment, b binary, values natsValues) {
	name, pod := d.Name, d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !selects(t, d.Spec.Selector, podLabels) {
		t.Errorf("selector %v does not select the pod template's labels %v", d.Spec.Selector, podLabels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// One image per service, holding its binary only (the Dockerfile's
	// target of the binary's name); the command runs it.
	if repo, _ := splitImage(c.Image); path.Base(repo) != imagePrefix+name {
		t.Errorf("image %q: want the image %s%s (Dockerfile target %s)", c.Image, imagePrefix, name, name)
	}
	if len(c.Command) != 1 || c.Command[0] != binDir+name {
		t.Errorf("command %q: want [%s%s]", c.Command, binDir, name)
	}

	env := m.effectiveEnv(t, c, b)
	setting := func(flag string) string {
		if v, ok := env[envName(flag)]; ok {
			return v
		}
		return b.defaults[flag]
	}

	// The HTTP port: the one the binary listens on, named, probed, served.
	_, portStr, err := net.SplitHostPort(setting("http-addr"))
	if err != nil {
		t.Fatalf("http-addr %q: %v", setting("http-addr"), err)
	}
	httpPort, _ := strconv.Atoi(portStr)
	var named *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "http" {
			named = &c.Ports[i]
		}
	}
	if named == nil || named.ContainerPort != int32(httpPort) {
		t.Errorf("want a container port named http = %d (--http-addr %q), got %+v", httpPort, setting("http-addr"), c.Ports)
	}
	// A consumer that does not provision its streams cannot bind its
	// consumer before they exist, and a sender then waits unready without
	// retrying: its startup probe asks /readyz, so that the kubelet restarts
	// a pod that never got ready. Otherwise /healthz: alive while waiting.
	startupPath := "/healthz"
	if _, consumes := consumers()[name]; consumes && setting("provision") == "false" {
		startupPath = "/readyz"
	}
	for _, pr := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, startupPath},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe on %s", pr.kind, pr.path)
			continue
		}
		g := pr.probe.HTTPGet
		if g.Path != pr.path {
			t.Errorf("%s probe path %q, want %q", pr.kind, g.Path, pr.path)
		}
		if got, ok := containerPort(c, g.Port); !ok || got != int32(httpPort) {
			t.Errorf("%s probe port %s: want a declared container port equal to the HTTP port %d", pr.kind, g.Port.String(), httpPort)
		}
	}

	// Resources, requests within limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("resources: want a %s request and limit, got requests %v, limits %v", r, quantities(c.Resources.Requests), quantities(c.Resources.Limits))
		} else if req.Cmp(lim) > 0 {
			t.Errorf("resources: %s request %s above its limit %s", r, req.String(), lim.String())
		}
	}

	checkSecurity(t, pod, c)

	// Grace: the drain, then the HTTP and NATS shutdown, before SIGKILL.
	drain, err := time.ParseDuration(setting("drain-timeout"))
	if err != nil {
		t.Errorf("drain-timeout %q: %v", setting("drain-timeout"), err)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < drain+shutdownSlack {
		t.Errorf("terminationGracePeriodSeconds %v: want at least the drain timeout %s + %s", deref(g), drain, shutdownSlack)
	}

	// Files named by the environment: the root file system is read-only and
	// the image holds only binaries, so each must come from a volume,
	// mounted as a directory (a subPath mount never sees Secret updates).
	for k, v := range env {
		if !strings.HasPrefix(v, "/") {
			continue
		}
		mounted := false
		for _, vm := range c.VolumeMounts {
			if mp := strings.TrimSuffix(vm.MountPath, "/"); v == mp || strings.HasPrefix(v, mp+"/") {
				mounted = true
				if vm.SubPath != "" || vm.SubPathExpr != "" {
					t.Errorf("%s=%s: mounted with subPath %q, which never sees Secret updates", k, v, vm.SubPath)
				}
				if !hasVolume(pod, vm.Name) {
					t.Errorf("volume mount %q names no volume", vm.Name)
				}
			}
		}
		if !mounted {
			t.Errorf("%s=%s: no volume is mounted there", k, v)
		}
	}
	// A sender (it re-reads its apps file) cannot start without one; the
	// dispatcher's is optional (known app names).
	if b.env[envName("apps-reload")] && env[envName("apps-file")] == "" {
		t.Errorf("%s is not set: the sender refuses to start without an apps file", envName("apps-file"))
	}

	// NATS: the client URL and the stream replicas fit the chart values.
	if u, err := url.Parse(setting("nats-url")); err != nil || u.Port() != "4222" {
		t.Errorf("nats-url %q: want the chart's client service on port 4222", setting("nats-url"))
	}
	if r, err := strconv.Atoi(setting("stream-replicas")); err != nil || r < 1 || r > values.Config.Cluster.Replicas {
		t.Errorf("stream-replicas %q: want 1..%d, the NATS servers of nats-values.yaml", setting("stream-replicas"), values.Config.Cluster.Replicas)
	}

	// A PDB and a metrics Service per Deployment.
	var pdbs int
	for _, p := range m.pdbs {
		if selects(t, p.Spec.Selector, podLabels) {
			pdbs++
			if p.Spec.MinAvailable != nil || p.Spec.MaxUnavailable == nil || *p.Spec.MaxUnavailable != intstr.FromInt32(1) {
				t.Errorf("PodDisruptionBudget %s: want maxUnavailable: 1 and no minAvailable", p.Name)
			}
		}
	}
	if pdbs != 1 {
		t.Errorf("want exactly one PodDisruptionBudget selecting the pods, got %d", pdbs)
	}
	var svcs int
	for _, s := range m.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			continue
		}
		svcs++
		var ok bool
		for _, p := range s.Spec.Ports {
			if got, found := containerPort(c, p.TargetPort); p.Name == "http" && found && got == int32(httpPort) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("Service %s: want a port named http targeting container port %d, got %+v", s.Name, httpPort, s.Spec.Ports)
		}
		if a := s.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != portStr || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("Service %s: want prometheus.io/scrape \"true\", port %q and path /metrics annotations, got %v", s.Name, portStr, a)
		}
	}
	if svcs != 1 {
		t.Errorf("want exactly one Service selecting the pods, got %d", svcs)
	}

	// KEDA owns the replica count of a scaled Deployment.
	for _, so := range m.scaled {
		if so.Spec.ScaleTargetRef.Name == name && d.Spec.Replicas != nil {
			t.Errorf("spec.replicas is set, but ScaledObject %s owns the replica count: every apply would reset it", so.Metadata.Name)
		}
	}
}

// checkPlatformsDeclared: a custom channel's sender is useless unless every
// service declares its platform (docs/channels.md): the dispatcher batches
// its tokens, the feedback-sink accepts its feedback, provisioning (the
// Job's --platforms too) creates its streams.
func (m *manifests) checkPlatformsDeclared(t *testing.T) {
	for _, p := range customPlatforms {
		if m.deployments[events.SenderDurable(p)] == nil {
			continue
		}
		declares := func(list string) bool {
			return slices.Contains(strings.Split(list, ","), string(p))
		}
		for name, d := range m.deployments {
			if v := m.configValue(d, envName("platforms")); !declares(v) {
				t.Errorf("Deployment %s: %s=%q does not declare %q, whose sender %s is deployed",
					name, envName("platforms"), v, p, events.SenderDurable(p))
			}
		}
		for _, j := range m.jobs {
			c := j.Spec.Template.Spec.Containers[0]
			var platforms string
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "--platforms="); ok {
					platforms = v
				}
			}
			// $(VAR) is expanded from the container's environment.
			if ref, ok := strings.CutPrefix(platforms, "$("); ok {
				platforms = m.containerValue(c, strings.TrimSuffix(ref, ")"))
			}
			if !declares(platforms) {
				t.Errorf("Job %s: args %q provision no streams of %q (want --platforms=… naming it)", j.Name, c.Args, p)
			}
		}
	}
}

// effectiveEnv is the container's environment as the process sees it
// (ConfigMaps through envFrom, then env, which wins), after checking that
// the binary reads every variable.
func (m *manifests) effectiveEnv(t *testing.T, c corev1.Container, b binary) map[string]string {
	t.Helper()
	env := map[string]string{}
	known := func(k, from string) {
		if !b.env[k] {
			t.Errorf("%s (%s) is not read by the binary; `%s -h` lists the variables it knows", k, from, path.Base(c.Command[0]))
		}
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := m.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				if ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional {
					t.Errorf("envFrom: ConfigMap %q is not in the manifests", ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				known(ef.Prefix+k, "ConfigMap "+cm.Name)
				env[ef.Prefix+k] = v
			}
			for k := range cm.BinaryData {
				t.Errorf("ConfigMap %s: binary key %s cannot be an environment variable", cm.Name, k)
			}
		case ef.SecretRef != nil:
			// Its keys are not in the manifests, so nothing could check them.
			t.Errorf("envFrom Secret %q: mount credentials as files instead, or name each key in env", ef.SecretRef.Name)
		}
	}
	for _, e := range c.Env {
		known(e.Name, "env")
		env[e.Name] = e.Value
	}
	return env
}

func checkSecurity(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if csc == nil {
		t.Fatalf("container %s: no securityContext", c.Name)
	}
	pick := func(cv, pv *bool) bool {
		if cv != nil {
			return *cv
		}
		return pv != nil && *pv
	}
	if !pick(csc.RunAsNonRoot, psc.RunAsNonRoot) {
		t.Errorf("want runAsNonRoot: true")
	}
	// Numeric, so the kubelet can check runAsNonRoot whatever the image says.
	uid := psc.RunAsUser
	if csc.RunAsUser != nil {
		uid = csc.RunAsUser
	}
	if uid == nil || *uid == 0 {
		t.Errorf("want a non-zero runAsUser, got %v", deref(uid))
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("want readOnlyRootFilesystem: true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("want allowPrivilegeEscalation: false")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("want capabilities dropping ALL and adding none, got %+v", csc.Capabilities)
	}
	sp := psc.SeccompProfile
	if csc.SeccompProfile != nil {
		sp = csc.SeccompProfile
	}
	if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("want seccompProfile RuntimeDefault, got %+v", sp)
	}
}

func (m *manifests) checkScaledObjects(t *testing.T, want map[string][][2]string, values natsValues) {
	seen := map[string]int{}
	for _, so := range m.scaled {
		target := so.Spec.ScaleTargetRef
		where := "ScaledObject " + so.Metadata.Name
		if (target.Kind != "" && target.Kind != "Deployment") || m.deployments[target.Name] == nil {
			t.Errorf("%s: scaleTargetRef %+v names no Deployment", where, target)
			continue
		}
		seen[target.Name]++
		if mn, mx := so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount; mn == nil || mx == nil || *mn < 1 || *mn > *mx {
			t.Errorf("%s: want 1 <= minReplicaCount <= maxReplicaCount, got %v..%v", where, deref(mn), deref(mx))
		}
		exp, ok := want[target.Name]
		if !ok {
			t.Errorf("%s: Deployment %s reads no stream in pkg/events", where, target.Name)
			continue
		}
		// One nats-jetstream trigger per consumer the Deployment reads, in
		// one account: the HPA scales on the largest lag.
		var got [][2]string
		for i, tr := range so.Spec.Triggers {
			if tr.Type != "nats-jetstream" {
				t.Errorf("%s: trigger %d is %q, want nats-jetstream", where, i, tr.Type)
				continue
			}
			got = append(got, [2]string{tr.Metadata["stream"], tr.Metadata["consumer"]})
			if acc := tr.Metadata["account"]; acc == "" || acc != so.Spec.Triggers[0].Metadata["account"] {
				t.Errorf("%s: trigger %d account %q: want one account for every trigger (\"$G\" without NATS accounts)", where, i, acc)
			}
		}
		if !slices.Equal(got, exp) {
			t.Errorf("%s: triggers on stream/consumer %v, want %v (pkg/events)", where, got, exp)
		}
		for _, tr := range so.Spec.Triggers {
			m.checkNATSTrigger(t, where, target.Name, tr.Metadata, values)
		}
	}
	for name := range want {
		if seen[name] != 1 {
			t.Errorf("Deployment %s: want exactly one ScaledObject, got %d", name, seen[name])
		}
	}
}

// checkNATSTrigger checks one nats-jetstream trigger's metadata.
func (m *manifests) checkNATSTrigger(t *testing.T, where, target string, md map[string]string, values natsValues) {
	t.Helper()
	for k := range md {
		if !slices.Contains(natsTriggerKeys, k) {
			t.Errorf("%s: unknown nats-jetstream metadata %q", where, k)
		}
	}
	if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n < 1 {
		t.Errorf("%s: lagThreshold %q: want a positive integer", where, md["lagThreshold"])
	}
	// The chart's headless service, on its monitor port, in the namespace
	// of the client service that the services connect to.
	host, port, err := net.SplitHostPort(md["natsServerMonitoringEndpoint"])
	if err != nil || port != strconv.Itoa(values.Config.Monitor.Port) {
		t.Errorf("%s: natsServerMonitoringEndpoint %q: want host:%d (config.monitor.port)", where, md["natsServerMonitoringEndpoint"], values.Config.Monitor.Port)
		return
	}
	if d := m.deployments[target]; d != nil {
		nats := m.configValue(d, envName("nats-url"))
		u, err := url.Parse(nats)
		client := strings.Split(u.Hostname(), ".")
		mon := strings.Split(host, ".")
		if err != nil || len(client) < 2 || len(mon) < 2 || mon[0] != client[0]+"-headless" || mon[1] != client[1] {
			t.Errorf("%s: natsServerMonitoringEndpoint %q is not the headless service of the NATS the services use (%q)", where, host, nats)
		}
	}
}

// checkHPAs: each gateway Deployment has exactly one HPA, each HPA targets
// a Deployment that no ScaledObject scales, and the Deployment leaves its
// replica count to it.
func (m *manifests) checkHPAs(t *testing.T) {
	seen := map[string]int{}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		d := m.deployments[ref.Name]
		if ref.Kind != "Deployment" || d == nil {
			t.Errorf("HorizontalPodAutoscaler %s: scaleTargetRef %+v names no Deployment", h.Name, ref)
			continue
		}
		seen[ref.Name]++
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets spec.replicas, but HorizontalPodAutoscaler %s owns the replica count", ref.Name, h.Name)
		}
		if mn := h.Spec.MinReplicas; mn == nil || *mn < 1 || *mn > h.Spec.MaxReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: want 1 <= minReplicas <= maxReplicas", h.Name)
		}
		for _, so := range m.scaled {
			if so.Spec.ScaleTargetRef.Name == ref.Name {
				t.Errorf("Deployment %s is scaled by both HorizontalPodAutoscaler %s and ScaledObject %s", ref.Name, h.Name, so.Metadata.Name)
			}
		}
	}
	for _, name := range gateways {
		if m.deployments[name] != nil && seen[name] != 1 {
			t.Errorf("Deployment %s: want exactly one HorizontalPodAutoscaler, got %d", name, seen[name])
		}
	}
}

// configValue is a variable as set on d's container (env, then envFrom).
func (m *manifests) configValue(d *appsv1.Deployment, key string) string {
	return m.containerValue(d.Spec.Template.Spec.Containers[0], key)
}

// containerValue is a variable as set on c (env, then envFrom).
func (m *manifests) containerValue(c corev1.Container, key string) string {
	for _, e := range c.Env {
		if e.Name == key {
			return e.Value
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] != nil {
			if v, ok := m.configMaps[ef.ConfigMapRef.Name].Data[strings.TrimPrefix(key, ef.Prefix)]; ok {
				return v
			}
		}
	}
	return ""
}

func (m *manifests) checkPodMonitors(t *testing.T) {
	for _, pm := range m.podMonitors {
		// kube-prometheus-stack's podMonitorSelector: release: <its release>.
		if pm.Metadata.Labels["release"] == "" {
			t.Errorf("PodMonitor %s: no release label, which kube-prometheus-stack's Prometheus selects PodMonitors on", pm.Metadata.Name)
		}
		for name, d := range m.deployments {
			if !selects(t, &pm.Spec.Selector, labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("PodMonitor %s does not select %s's pods", pm.Metadata.Name, name)
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				if _, ok := containerPort(d.Spec.Template.Spec.Containers[0], intstr.FromString(ep.Port)); !ok {
					t.Errorf("PodMonitor %s: port %q is not a named port of %s", pm.Metadata.Name, ep.Port, name)
				}
			}
		}
	}
}

// containerPort resolves a probe's or Service's port (name or number) to a
// declared container port.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func selects(t *testing.T, s *metav1.LabelSelector, l labels.Set) bool {
	t.Helper()
	if s == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Errorf("selector %v: %v", s, err)
		return false
	}
	return !sel.Empty() && sel.Matches(l)
}

func hasVolume(pod corev1.PodSpec, name string) bool {
	return slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == name })
}

// envName is a flag's environment twin.
func envName(flag string) string { return config.EnvName(flag) }

func quantities(l corev1.ResourceList) map[corev1.ResourceName]string {
	out := map[corev1.ResourceName]string{}
	for k, q := range l {
		out[k] = q.String()
	}
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// chartPin matches the chart version of a `helm upgrade --install nats
// nats/nats` command: --version '<constraint>'.
var chartPin = regexp.MustCompile(`nats/nats\b[^\n]*(?:\\\n[^\n]*)*?--version\s+'([^']+)'`)

// The install commands of README.md and nats-values.yaml pin the NATS chart
// to a release line whose nats-server is 2.12 or later: pushfleet's
// schedules need allow_msg_schedules, which nats-server 2.11 (chart 1.x,
// `^1`) silently drops. Since 2.12 the chart's major.minor is nats-server's,
// so the pin must be ~2.<minor> or 2.<minor>.<patch> with minor >= 12.
func TestNATSChartPinnedToServerWithSchedules(t *testing.T) {
	for _, file := range []string{"README.md", "nats-values.yaml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		pins := chartPin.FindAllStringSubmatch(string(b), -1)
		if len(pins) == 0 {
			t.Errorf("%s: no `nats/nats … --version '…'` install command", file)
		}
		for _, p := range pins {
			v := strings.TrimPrefix(p[1], "~")
			parts := strings.Split(v, ".")
			major, err1 := strconv.Atoi(parts[0])
			minor, err2 := 0, error(nil)
			if len(parts) > 1 {
				minor, err2 = strconv.Atoi(parts[1])
			}
			if err1 != nil || err2 != nil || len(parts) < 2 || len(parts) > 3 || strings.ContainsAny(p[1], "^><=*x ") {
				t.Errorf("%s: chart version %q: want ~2.<minor> or an exact 2.<minor>.<patch>", file, p[1])
				continue
			}
			if major != 2 || minor < 12 {
				t.Errorf("%s: chart version %q ships nats-server %d.%d: pushfleet needs nats-server >= 2.12", file, p[1], major, minor)
			}
		}
	}
}
