package scaletest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// manifests are the manifests whose ScaledObjects the keda table reads.
const manifests = "../../deploy/k8s/base"

// scaledObject is the part of a KEDA ScaledObject that decides a replica
// count with nats-jetstream triggers.
type scaledObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// scaledObjects reads every ScaledObject of the base manifests.
func scaledObjects(t *testing.T) []scaledObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []scaledObject
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var so scaledObject
			if err := yaml.Unmarshal(doc, &so); err != nil || so.Kind != "ScaledObject" {
				continue
			}
			out = append(out, so)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no ScaledObject in %s", manifests)
	}
	return out
}

// kedaLag is the lag KEDA's nats-jetstream scaler (kedacore/keda
// pkg/scalers/nats_jetstream_scaler.go) reads for one trigger: it GETs
// /jsz?acc=<account>&consumers=true&config=true from the monitoring
// endpoint; in a cluster (meta cluster_size > 1) it asks the node that
// leads the consumer; the lag is num_pending + num_ack_pending of the
// consumer, or the stream's last_seq when the consumer is not there. found
// is false when the account or the stream is not there: the scaler then
// reports lag 0 on its first poll ("stream not found" afterwards), so KEDA
// keeps or falls to minReplicaCount.
func (c *cluster) kedaLag(ctx context.Context, acc, stream, consumer string) (lag uint64, found bool, err error) {
	entry := c.nodes[0] // the endpoint: one node of the headless service
	for _, n := range c.nodes {
		if n.proc.Running() {
			entry = n
			break
		}
	}
	j, err := entry.jsz(ctx, acc)
	if err != nil {
		return 0, false, err
	}
	if j.MetaCluster.ClusterSize > 1 {
		if leader := consumerLeader(j, acc, stream, consumer); leader != "" && leader != entry.name {
			if n := c.byName(leader); n != nil && n.proc.Running() {
				if j, err = n.jsz(ctx, acc); err != nil {
					return 0, false, err
				}
			}
		}
	}
	for _, a := range j.Accounts {
		if a.Name != acc {
			continue
		}
		for _, s := range a.Streams {
			if s.Name != stream {
				continue
			}
			for _, cd := range s.Consumers {
				if cd.Name == consumer {
					return cd.NumPending + uint64(cd.NumAckPending), true, nil
				}
			}
			return s.State.LastSeq, true, nil
		}
	}
	return 0, false, nil
}

func consumerLeader(j *jsz, acc, stream, consumer string) string {
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			for _, cd := range s.Consumers {
				if a.Name == acc && s.Name == stream && cd.Name == consumer {
					return cd.Cluster.Leader
				}
			}
		}
	}
	return ""
}

// desiredReplicas is what the HPA KEDA creates asks for: each trigger is an
// external metric with an AverageValue target of lagThreshold, so
// ceil(lag / lagThreshold) replicas, the largest over the triggers, within
// [minReplicaCount, maxReplicaCount].
func desiredReplicas(min, max int, lags, thresholds []uint64) int {
	want := min
	for i, lag := range lags {
		if thresholds[i] == 0 {
			continue
		}
		want = maxInt(want, int((lag+thresholds[i]-1)/thresholds[i]))
	}
	return minInt(want, max)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// kedaTable prints, for each ScaledObject, the lag of each trigger and the
// replica count KEDA would ask for at this moment, with the secure
// overlay's account (PUSHFLEET); and what the base manifests' "$G" finds
// on this server, which runs with accounts.
func (h *harness) kedaTable(phase string) {
	h.t.Helper()
	print := func(line string) {
		h.t.Log(line)
		fmt.Println(line)
		summary.add(line)
	}
	globalFound := 0
	for _, so := range scaledObjects(h.t) {
		var lags, thresholds []uint64
		var parts []string
		for _, tr := range so.Spec.Triggers {
			if tr.Type != "nats-jetstream" {
				continue
			}
			th, err := strconv.ParseUint(tr.Metadata["lagThreshold"], 10, 64)
			if err != nil {
				th = 10 // the scaler's default
			}
			stream, consumer := tr.Metadata["stream"], tr.Metadata["consumer"]
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			lag, found, err := h.c.kedaLag(ctx, account, stream, consumer)
			if _, g, gerr := h.c.kedaLag(ctx, "$G", stream, consumer); gerr == nil && g {
				globalFound++
			}
			cancel()
			switch {
			case err != nil:
				parts = append(parts, stream+":error")
			case !found:
				parts = append(parts, stream+":not-found")
			default:
				parts = append(parts, fmt.Sprintf("%s/%s=%d÷%d", stream, consumer, lag, th))
			}
			lags, thresholds = append(lags, lag), append(thresholds, th)
		}
		want := desiredReplicas(so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount, lags, thresholds)
		print(fmt.Sprintf("keda phase=%s account=%s scaledobject=%s min=%d max=%d lag=[%s] replicas=%d",
			phase, account, so.Metadata.Name, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount, strings.Join(parts, " "), want))
	}
	if globalFound == 0 {
		print(fmt.Sprintf(`keda phase=%s account=$G: no stream found (the server runs with accounts): every ScaledObject of the base manifests reads lag 0 and stays at minReplicaCount`, phase))
	}
}

// KEDA's arithmetic, without a cluster: the larger trigger wins, within
// the bounds.
func TestDesiredReplicas(t *testing.T) {
	for _, tc := range []struct {
		name             string
		min, max         int
		lags, thresholds []uint64
		want             int
	}{
		{"idle stays at min", 2, 20, []uint64{0, 0}, []uint64{200, 200}, 2},
		{"ceil of lag over threshold", 2, 20, []uint64{1001, 0}, []uint64{200, 200}, 6},
		{"largest trigger", 1, 10, []uint64{150, 950}, []uint64{100, 100}, 10},
		{"capped at max", 2, 5, []uint64{100000}, []uint64{500}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := desiredReplicas(tc.min, tc.max, tc.lags, tc.thresholds); got != tc.want {
				t.Errorf("desiredReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}
