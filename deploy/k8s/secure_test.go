package k8s_test

import (
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// authConf is what deploy/nats-server/pushfleet-auth.conf says about its
// users: the NATS server the secure overlay is written for.
type authConf struct {
	// account holds the streams (JetStream enabled) and the users.
	account string
	// users by name: the permission set ("" for admin, who may do
	// everything) and the server's password variable.
	users map[string]authUser
}

type authUser struct{ permissions, passwordVar string }

var (
	confUser    = regexp.MustCompile(`\{\s*user:\s*([\w-]+),\s*password:\s*\$(\w+)(?:,\s*permissions:\s*\$(\w+))?\s*\}`)
	confAccount = regexp.MustCompile(`(?m)^\s*(\w+)\s*\{\s*\n\s*jetstream:\s*enabled`)
)

func readAuthConf(t *testing.T) authConf {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "nats-server", "pushfleet-auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	a := authConf{users: map[string]authUser{}}
	if m := confAccount.FindSubmatch(b); m != nil {
		a.account = string(m[1])
	}
	for _, m := range confUser.FindAllSubmatch(b, -1) {
		a.users[string(m[1])] = authUser{permissions: string(m[3]), passwordVar: string(m[2])}
	}
	if a.account == "" || len(a.users) == 0 || a.users["admin"].passwordVar == "" {
		t.Fatalf("pushfleet-auth.conf: no JetStream account or no users (admin included) found: is its layout still parsed here? %+v", a)
	}
	return a
}

// The password variable the server reads for a user: APNS_SENDER_NATS_PASSWORD.
func passwordVar(user string) string {
	return strings.ToUpper(strings.ReplaceAll(user, "-", "_")) + "_NATS_PASSWORD"
}

// splitImage splits an image reference into its repository and its tag
// ("" when pinned by digest only or untagged).
func splitImage(image string) (repo, tag string) {
	repo, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		return repo[:i], repo[i+1:]
	}
	return repo, ""
}

// podSpecs are every workload's pod: the Deployments' and the Jobs'.
func (m *manifests) podSpecs() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for name, d := range m.deployments {
		out["Deployment/"+name] = &d.Spec.Template
	}
	for _, j := range m.jobs {
		out["Job/"+j.Name] = &j.Spec.Template
	}
	return out
}

// checkJobs: a Job runs `pushctl provision` from the pushctl image, as
// restricted as the services, with the stream settings they share.
func (m *manifests) checkJobs(t *testing.T) {
	for _, j := range m.jobs {
		where := "Job " + j.Name
		pod := j.Spec.Template.Spec
		if len(pod.Containers) != 1 {
			t.Errorf("%s: want one container, got %d", where, len(pod.Containers))
			continue
		}
		c := pod.Containers[0]
		if !slices.Equal(c.Command, []string{binDir + "pushctl", "provision"}) {
			t.Errorf("%s: command %q: want [%spushctl provision]", where, c.Command, binDir)
		}
		if repo, _ := splitImage(c.Image); path.Base(repo) != imagePrefix+"pushctl" {
			t.Errorf("%s: image %q: want %spushctl (Dockerfile target pushctl)", where, c.Image, imagePrefix)
		}
		if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("%s: restartPolicy %q", where, pod.RestartPolicy)
		}
		if j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit < 1 {
			t.Errorf("%s: want a backoffLimit: NATS may not be up yet", where)
		}
		t.Run(where, func(t *testing.T) { checkSecurity(t, pod, c) })
		// Provisioning uses the stream settings the services would have.
		var cms []string
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				cms = append(cms, ef.ConfigMapRef.Name)
			}
		}
		for name, d := range m.deployments {
			dc := d.Spec.Template.Spec.Containers[0]
			for _, ef := range dc.EnvFrom {
				if ef.ConfigMapRef != nil && !slices.Contains(cms, ef.ConfigMapRef.Name) {
					t.Errorf("%s: does not read ConfigMap %s, %s's stream settings", where, ef.ConfigMapRef.Name, name)
				}
			}
		}
	}
}

// checkRelease: every pod runs images of one release, and
// app.kubernetes.io/version names it (when the images carry a tag).
func (m *manifests) checkRelease(t *testing.T) {
	tags := map[string]string{}
	for where, tpl := range m.podSpecs() {
		for _, c := range tpl.Spec.Containers {
			_, tag := splitImage(c.Image)
			tags[where+" "+c.Name] = tag
			if v, ok := tpl.Labels["app.kubernetes.io/version"]; ok && tag != "" && v != tag {
				t.Errorf("%s: pod label app.kubernetes.io/version %q, image tag %q", where, v, tag)
			} else if !ok && tag != "" {
				t.Errorf("%s: image tag %q but no app.kubernetes.io/version pod label", where, tag)
			}
		}
	}
	if vals := slices.Compact(slices.Sorted(maps.Values(tags))); len(vals) > 1 {
		t.Errorf("images of several releases (tags %q): %v", vals, tags)
	}
	for name, d := range m.deployments {
		if v, tv := d.Labels["app.kubernetes.io/version"], d.Spec.Template.Labels["app.kubernetes.io/version"]; v != tv {
			t.Errorf("Deployment %s: app.kubernetes.io/version %q, its pods' %q", name, v, tv)
		}
		if _, ok := d.Spec.Selector.MatchLabels["app.kubernetes.io/version"]; ok {
			t.Errorf("Deployment %s: app.kubernetes.io/version in the selector, which is immutable", name)
		}
	}
}

// secrets lists the Secrets a pod can read: volumes (projected too), env
// and envFrom.
func secrets(pod corev1.PodSpec) []string {
	var out []string
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			out = append(out, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					out = append(out, s.Secret.Name)
				}
			}
		}
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out = append(out, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				out = append(out, ef.SecretRef.Name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// natsIdentity is the NATS user a pod connects as and the Secret its
// password comes from.
func natsIdentity(c corev1.Container) (user, secret string) {
	for _, e := range c.Env {
		switch e.Name {
		case envName("nats-user"):
			user = e.Value
		case envName("nats-password"):
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Key != "" {
				secret = e.ValueFrom.SecretKeyRef.Name
			}
		}
	}
	return user, secret
}

// checkSecure checks the secure overlay against pushfleet-auth.conf: each
// Deployment connects as its own user with its own Secret, none provisions,
// a Job provisions as admin with a Secret of its own, KEDA reads the
// account that holds the streams, and NetworkPolicies confine every pod.
func (m *manifests) checkSecure(t *testing.T, bins map[string]binary, auth authConf) {
	owner := map[string]string{} // Secret → the one workload that reads it
	claim := func(where string, pod corev1.PodSpec) {
		for _, s := range secrets(pod) {
			if o, ok := owner[s]; ok {
				t.Errorf("Secret %s is read by both %s and %s: credentials are never shared", s, o, where)
			}
			owner[s] = where
		}
	}
	for name, d := range m.deployments {
		where := "Deployment/" + name
		c := d.Spec.Template.Spec.Containers[0]
		claim(where, d.Spec.Template.Spec)
		user, secret := natsIdentity(c)
		u, ok := auth.users[user]
		switch {
		case user != name:
			t.Errorf("%s: NATS user %q (%s): want its own user %q", where, user, envName("nats-user"), name)
		case !ok:
			t.Errorf("%s: NATS user %q is not in pushfleet-auth.conf", where, user)
		case u.permissions == "":
			t.Errorf("%s: NATS user %q has every permission in pushfleet-auth.conf: a service runs with least privilege", where, user)
		case u.passwordVar != passwordVar(user):
			t.Errorf("%s: pushfleet-auth.conf reads %s's password from $%s, want $%s", where, user, u.passwordVar, passwordVar(user))
		}
		if secret != name+"-nats" {
			t.Errorf("%s: %s from Secret %q: want its own Secret %s-nats", where, envName("nats-password"), secret, name)
		}
		env := map[string]string{}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] != nil {
				maps.Copy(env, m.configMaps[ef.ConfigMapRef.Name].Data)
			}
		}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if v, ok := env[envName("provision")]; !ok || v != "false" {
			t.Errorf("%s: %s=%q: want \"false\": its user may not create streams", where, envName("provision"), v)
		}
		if v := env[envName("nats-creds")]; v != "" {
			t.Errorf("%s: %s=%q: the secure overlay authenticates by user and password", where, envName("nats-creds"), v)
		}
		if !bins[name].env[envName("nats-user")] || !bins[name].env[envName("nats-password")] {
			t.Errorf("%s: the binary does not read %s and %s", where, envName("nats-user"), envName("nats-password"))
		}
	}

	// The provisioning Job: admin, its own Secret.
	provisioners := 0
	for _, j := range m.jobs {
		where := "Job/" + j.Name
		claim(where, j.Spec.Template.Spec)
		c := j.Spec.Template.Spec.Containers[0]
		if !slices.Equal(c.Command, []string{binDir + "pushctl", "provision"}) {
			continue
		}
		provisioners++
		user, secret := natsIdentity(c)
		if u, ok := auth.users[user]; !ok || u.permissions != "" {
			t.Errorf("%s: provisions as NATS user %q: want the account's admin (a user of pushfleet-auth.conf without a permission set)", where, user)
		}
		if secret == "" {
			t.Errorf("%s: %s from no Secret", where, envName("nats-password"))
		}
	}
	if provisioners != 1 {
		t.Errorf("want one Job running `pushctl provision`, got %d", provisioners)
	}

	// KEDA reads lag in the account that holds the streams.
	for _, so := range m.scaled {
		for i, tr := range so.Spec.Triggers {
			if acc := tr.Metadata["account"]; acc != auth.account {
				t.Errorf("ScaledObject %s trigger %d: account %q, want %q (pushfleet-auth.conf): in another account KEDA finds no stream and nothing scales",
					so.Metadata.Name, i, acc, auth.account)
			}
		}
	}

	m.checkNetworkPolicies(t, bins)
}

// checkNetworkPolicies: a default deny for the namespace; every pod may
// reach NATS, only senders the providers' HTTPS; nothing comes in but
// Prometheus on the metrics port (and the gateway's API on its port).
func (m *manifests) checkNetworkPolicies(t *testing.T, bins map[string]binary) {
	denyAll := false
	for _, np := range m.netpols {
		if len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 {
			denyAll = true
		}
	}
	if !denyAll {
		t.Errorf("no default-deny NetworkPolicy (every pod, Ingress and Egress, no rule)")
	}
	for where, tpl := range m.podSpecs() {
		podLabels := labels.Set(tpl.Labels)
		c := tpl.Spec.Containers[0]
		var ingress []networkingv1.NetworkPolicyIngressRule
		var egress []networkingv1.NetworkPolicyEgressRule
		for _, np := range m.netpols {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				t.Errorf("NetworkPolicy %s: %v", np.Name, err)
				continue
			}
			if !sel.Matches(podLabels) {
				continue
			}
			ingress = append(ingress, np.Spec.Ingress...)
			egress = append(egress, np.Spec.Egress...)
		}
		egressPort := func(port int32) bool {
			for _, r := range egress {
				for _, p := range r.Ports {
					if p.Port != nil && p.Port.Type == intstr.Int && p.Port.IntVal == port {
						return true
					}
				}
			}
			return false
		}
		if !egressPort(4222) {
			t.Errorf("%s: no NetworkPolicy lets it reach NATS on port 4222", where)
		}
		// Only a binary that reads an apps file (a sender) calls providers.
		name := strings.TrimPrefix(where, "Deployment/")
		sender := bins[name].env[envName("apps-reload")]
		if egressPort(443) != sender {
			t.Errorf("%s: HTTPS (443) egress %v: want it for senders only", where, !sender)
		}
		for _, r := range egress {
			if len(r.Ports) == 0 {
				t.Errorf("%s: an egress rule without ports allows every port", where)
			}
			if len(r.To) == 0 {
				t.Errorf("%s: an egress rule without peers allows every destination", where)
			}
		}
		if strings.HasPrefix(where, "Job/") {
			if len(ingress) > 0 {
				t.Errorf("%s: takes no traffic, but NetworkPolicies let some in", where)
			}
			continue
		}
		metrics := false
		for _, r := range ingress {
			if len(r.From) == 0 {
				t.Errorf("%s: an ingress rule without peers lets everyone in", where)
			}
			if len(r.Ports) == 0 {
				t.Errorf("%s: an ingress rule without ports opens every port", where)
			}
			for _, p := range r.Ports {
				if p.Port == nil {
					t.Errorf("%s: an ingress rule port without a number or name", where)
					continue
				}
				got, ok := containerPort(c, *p.Port)
				if !ok {
					t.Errorf("%s: ingress on port %s, which the container does not declare", where, p.Port.String())
				}
				if named, _ := containerPort(c, intstr.FromString("http")); ok && got == named {
					metrics = true
				}
			}
		}
		if !metrics {
			t.Errorf("%s: no NetworkPolicy lets Prometheus reach the metrics port (http)", where)
		}
	}
}
