package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush/webpushfake"
)

// Web Push tokens are subscriptions the fake creates (one P-256 key pair
// each), so the fakes process makes a fixed set of them and hands them to
// the load generator in fakesInfo: token number n is Subs[n%len(Subs)], or
// DeadSubs[n%len(DeadSubs)] for a dead one (410 Gone). Both are more than
// an S2 intent's 100 tokens, so an intent never carries one twice.
const webPushSubs, webPushDeadSubs = 2000, 200

// benchApp is the app every benchmark intent is for; the fakes know it.
const benchApp = sandbox.App

// fakesInfo is everything a fleet needs to reach the five fakes, and the
// driver to steer them. `pushbench fakes` writes it as JSON.
type fakesInfo struct {
	PID int `json:"pid"`
	// Control is the fakes' control endpoint: GET /stats, POST /latency?d=20ms.
	Control string `json:"control"`
	// InProcess is true when the fakes share the fleet's process: their CPU
	// and memory are then part of the fleet's figures.
	InProcess bool `json:"in_process"`
	APNs      struct {
		URL string         `json:"url"`
		CA  string         `json:"ca_pem"`
		App apns.AppConfig `json:"app"`
	} `json:"apns"`
	FCM struct {
		Endpoint string        `json:"endpoint"`
		CA       string        `json:"ca_pem"`
		App      fcm.AppConfig `json:"app"`
	} `json:"fcm"`
	Mi struct {
		URL string       `json:"url"`
		CA  string       `json:"ca_pem"`
		App mi.AppConfig `json:"app"`
	} `json:"mi"`
	HMS struct {
		URL      string        `json:"url"`
		TokenURL string        `json:"token_url"`
		CA       string        `json:"ca_pem"`
		App      hms.AppConfig `json:"app"`
	} `json:"hms"`
	WebPush struct {
		CA  string            `json:"ca_pem"`
		App webpush.AppConfig `json:"app"`
		// Subs and DeadSubs are subscriptions (tokens) the fake created
		// for App's VAPID key; the dead ones answer 410 Gone.
		Subs     []string `json:"subs"`
		DeadSubs []string `json:"dead_subs"`
	} `json:"webpush"`
}

// benchToken is device token number n of platform p: sandbox.Token's, or
// for Web Push one of the fakes' subscriptions.
func (fi *fakesInfo) benchToken(p events.Platform, n int, dead bool) string {
	if p == events.WebPush {
		if dead {
			return fi.WebPush.DeadSubs[n%len(fi.WebPush.DeadSubs)]
		}
		return fi.WebPush.Subs[n%len(fi.WebPush.Subs)]
	}
	return sandbox.Token(p, n, dead)
}

// fakesStats is the answer of GET /stats.
type fakesStats struct {
	CPUMicros      int64 `json:"cpu_us"`
	MaxRSSKB       int64 `json:"maxrss_kb"`
	APNsDelivered  int64 `json:"apns_delivered"`
	APNsRequests   int64 `json:"apns_requests"`
	FCMDelivered   int64 `json:"fcm_delivered"`
	MiDelivered    int64 `json:"mi_delivered"`
	HMSDelivered   int64 `json:"hms_delivered"`
	WebPushDeliv   int64 `json:"webpush_delivered"`
	LatencyMillis  int64 `json:"latency_ms"`
	InProcess      bool  `json:"in_process"`
	APNsPeakFlight int64 `json:"apns_peak_in_flight"`
}

func (s fakesStats) delivered() int64 {
	return s.APNsDelivered + s.FCMDelivered + s.MiDelivered + s.HMSDelivered + s.WebPushDeliv
}

// fakeSet is the five fakes running in this process, with their control endpoint.
type fakeSet struct {
	sb      *sandbox.Providers
	apns    *apnsfake.Server // sb's
	fcm     *fcmfake.Server
	mi      *mifake.Server
	hms     *hmsfake.Server
	webpush *webpushfake.Server
	ctl     *http.Server
	info    fakesInfo
	latency time.Duration
}

// startFakes starts the APNs, FCM, MiPush, HMS and Web Push fakes on
// loopback with an app each (and the Web Push subscriptions), and a control
// endpoint on 127.0.0.1.
func startFakes(inProcess bool) (_ *fakeSet, err error) {
	fs := &fakeSet{}
	defer func() {
		if err != nil {
			fs.close()
		}
	}()
	fs.info.PID, fs.info.InProcess = os.Getpid(), inProcess
	if fs.sb, err = sandbox.Start(); err != nil {
		return nil, err
	}
	fs.apns, fs.fcm, fs.mi = fs.sb.APNs, fs.sb.FCM, fs.sb.Mi
	fs.info.APNs.URL, fs.info.APNs.CA, fs.info.APNs.App = fs.apns.URL(), string(fs.apns.CertPEM()), fs.sb.APNsApp
	fs.info.FCM.Endpoint, fs.info.FCM.App = fs.fcm.Endpoint(), fs.sb.FCMApp
	fs.info.Mi.URL, fs.info.Mi.App = fs.mi.URL(), fs.sb.MiApp
	fs.hms, fs.webpush = fs.sb.HMS, fs.sb.WebPush
	fs.info.HMS.URL, fs.info.HMS.TokenURL, fs.info.HMS.App = fs.hms.URL(), fs.hms.TokenURL(), fs.sb.HMSApp
	fs.info.WebPush.App = fs.sb.WebPushApp
	fs.info.WebPush.Subs = make([]string, webPushSubs)
	for i := range fs.info.WebPush.Subs {
		fs.info.WebPush.Subs[i] = fs.sb.Token(events.WebPush, i, false)
	}
	fs.info.WebPush.DeadSubs = make([]string, webPushDeadSubs)
	for i := range fs.info.WebPush.DeadSubs {
		fs.info.WebPush.DeadSubs[i] = fs.sb.Token(events.WebPush, i, true)
	}
	for _, c := range []struct {
		pem *string
		url string
	}{{&fs.info.FCM.CA, fs.fcm.URL()}, {&fs.info.Mi.CA, fs.mi.URL()}, {&fs.info.HMS.CA, fs.hms.URL()}, {&fs.info.WebPush.CA, fs.webpush.URL()}} {
		b, err := sandbox.PeerCertPEM(c.url)
		if err != nil {
			return nil, fmt.Errorf("fakes: %w", err)
		}
		*c.pem = string(b)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakes control: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(fs.stats())
	})
	mux.HandleFunc("POST /latency", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 {
			http.Error(w, "want ?d=<duration>", http.StatusBadRequest)
			return
		}
		fs.setLatency(d)
	})
	fs.ctl = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = fs.ctl.Serve(ln) }()
	fs.info.Control = "http://" + ln.Addr().String()
	return fs, nil
}

func (fs *fakeSet) setLatency(d time.Duration) {
	fs.latency = d
	fs.apns.SetLatency(d)
	fs.fcm.SetLatency(d)
	fs.mi.SetLatency(d)
	fs.hms.SetLatency(d)
	fs.webpush.SetLatency(d)
}

func (fs *fakeSet) stats() fakesStats {
	cpu, rss := selfRusage()
	return fakesStats{
		CPUMicros: cpu.Microseconds(), MaxRSSKB: rss,
		APNsDelivered: fs.apns.TotalDelivered(), APNsRequests: fs.apns.Requests(),
		FCMDelivered: fs.fcm.TotalDelivered(), MiDelivered: fs.mi.DeliveredTotal(),
		HMSDelivered: fs.hms.DeliveredTotal(), WebPushDeliv: fs.webpush.DeliveredTotal(),
		LatencyMillis: fs.latency.Milliseconds(), InProcess: fs.info.InProcess,
		APNsPeakFlight: fs.apns.PeakInFlight(),
	}
}

func (fs *fakeSet) close() {
	if fs.ctl != nil {
		_ = fs.ctl.Close()
	}
	if fs.sb != nil {
		fs.sb.Close()
	}
}

// runFakes is `pushbench fakes`: serve the five fakes until the duration
// passes, a signal arrives or (with --stdin-eof) standard input closes.
func runFakes(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pushbench fakes", flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "write the fakes' URLs, CA certificates and credentials (JSON) to this file")
	dur := fset.Duration("duration", time.Hour, "serve this long at most, then exit")
	latency := fset.Duration("latency", 0, "initial provider latency of every fake (the benchmark sets it per scenario)")
	stdinEOF := fset.Bool("stdin-eof", false, "exit when standard input closes (used when pushbench starts the fakes itself)")
	fset.Usage = config.Usage(fset, `pushbench fakes: serve the APNs, FCM, MiPush, HMS and Web Push fakes in their own process, so
that the fleet's CPU is measured without theirs.

  go run ./tools/pushbench fakes --out /tmp/fakes.json &
  go run ./tools/pushbench --fakes-file /tmp/fakes.json

The first line of standard output (and the --out file) is JSON: each fake's
URL, CA certificate and sandbox credentials for the app "demo" (sandbox.App), the
Web Push subscriptions the benchmark pushes to, and a control endpoint on 127.0.0.1 (GET /stats: CPU of this process and delivery
counters; POST /latency?d=20ms: provider latency of all five fakes).`)
	if err := config.Parse(fset, args, getenv); err != nil {
		return err
	}
	fs, err := startFakes(false)
	if err != nil {
		return err
	}
	defer fs.close()
	fs.setLatency(*latency)
	b, err := json.Marshal(fs.info)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s\n", b)
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	if *stdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	<-ctx.Done()
	return nil
}

// fakesHandle is the driver's view of fakes running elsewhere.
type fakesHandle struct {
	info fakesInfo
	cmd  *exec.Cmd
	stop func()
}

// spawnFakes starts `pushbench fakes` as a child process.
func spawnFakes(self string) (*fakesHandle, error) {
	cmd := exec.Command(self, "fakes", "--stdin-eof", "--duration=24h")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fakes process: %w", err)
	}
	h := &fakesHandle{cmd: cmd, stop: func() { stdin.Close(); _ = cmd.Wait() }}
	line, err := readLine(bufio.NewReader(stdout), 60*time.Second)
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("fakes process: %w", err)
	}
	if err := json.Unmarshal(line, &h.info); err != nil {
		h.stop()
		return nil, fmt.Errorf("fakes process: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return h, nil
}

// loadFakesFile reads the file a running `pushbench fakes --out` wrote.
func loadFakesFile(path string) (*fakesHandle, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := &fakesHandle{stop: func() {}}
	if err := json.Unmarshal(b, &h.info); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if h.info.Control == "" || h.info.APNs.URL == "" {
		return nil, fmt.Errorf("%s: not a pushbench fakes file", path)
	}
	if h.info.HMS.URL == "" || len(h.info.WebPush.Subs) == 0 || len(h.info.WebPush.DeadSubs) == 0 {
		return nil, fmt.Errorf("%s: no HMS and Web Push fakes (written by an older pushbench fakes?)", path)
	}
	return h, nil
}

var ctlClient = &http.Client{Timeout: 10 * time.Second}

func fakesSetLatency(info *fakesInfo, d time.Duration) error {
	resp, err := ctlClient.Post(info.Control+"/latency?d="+d.String(), "text/plain", nil)
	if err != nil {
		return fmt.Errorf("fakes control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fakes control: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

func fakesGetStats(info *fakesInfo) (fakesStats, error) {
	var s fakesStats
	resp, err := ctlClient.Get(info.Control + "/stats")
	if err != nil {
		return s, fmt.Errorf("fakes control: %w", err)
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// certPool trusts one PEM certificate.
func certPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, errors.New("no usable CA certificate")
	}
	return pool, nil
}

// readLine reads one line, giving up after timeout.
func readLine(r *bufio.Reader, timeout time.Duration) ([]byte, error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := r.ReadBytes('\n')
		ch <- res{b, err}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			return nil, x.err
		}
		return x.b, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no answer in %v", timeout)
	}
}
