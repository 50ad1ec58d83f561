package proctest

import (
	"bufio"
	"cmp"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Spec is how to run one process.
type Spec struct {
	// Name names the process in messages.
	Name string
	// Path is the binary; Args its arguments.
	Path string
	Args []string
	// Env is the whole environment; nil means Environ().
	Env []string
	// LogPath receives the process's standard output and error (appended
	// to on a restart). Required.
	LogPath string
	// Ready, when set, is polled every 20ms after the start until it holds
	// (see HTTPReady); the start fails if the process exits first or
	// ReadyTimeout (default 30s) passes.
	Ready        func() bool
	ReadyTimeout time.Duration
	// OnStart, when set, runs once the process exists, before it is ready
	// (a scenario that kills it at a chosen moment).
	OnStart func(*Proc)
	// StopTimeout bounds the cleanup's SIGTERM before SIGKILL (default 15s).
	StopTimeout time.Duration
}

// Proc is a running (or ended) process of a Spec. Its methods are safe for
// concurrent use.
type Proc struct {
	spec Spec

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	// cpuDone is the CPU time of earlier runs (before a restart).
	cpuDone time.Duration
	// killed: a deliberate SIGKILL, so not being ready is no failure.
	killed atomic.Bool
}

// Start starts the process and waits until it is ready. The test's cleanup
// ends it (SIGTERM, then SIGKILL after StopTimeout) if it still runs.
func Start(tb testing.TB, spec Spec) *Proc {
	tb.Helper()
	if spec.LogPath == "" {
		tb.Fatalf("proctest: %s: no log path", spec.Name)
	}
	p := &Proc{spec: spec}
	tb.Cleanup(func() { p.Stop(cmp.Or(p.spec.StopTimeout, 15*time.Second)) })
	p.launch(tb)
	return p
}

// Name is the process's name.
func (p *Proc) Name() string { return p.spec.Name }

// LogPath is the file its output goes to.
func (p *Proc) LogPath() string { return p.spec.LogPath }

// Restart starts the process again with the same arguments; it must have
// exited.
func (p *Proc) Restart(tb testing.TB) {
	tb.Helper()
	select {
	case <-p.Exited():
	default:
		tb.Fatalf("proctest: restart of %s while it runs", p.spec.Name)
	}
	p.launch(tb)
}

func (p *Proc) launch(tb testing.TB) {
	tb.Helper()
	p.killed.Store(false)
	logf, err := os.OpenFile(p.spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Env = p.spec.Env
	if cmd.Env == nil {
		cmd.Env = Environ()
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start %s: %v", p.spec.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		p.mu.Lock()
		if cmd.ProcessState != nil {
			p.cpuDone += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		p.mu.Unlock()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if p.spec.OnStart != nil {
		p.spec.OnStart(p)
	}
	if p.spec.Ready == nil {
		return
	}
	deadline := time.Now().Add(cmp.Or(p.spec.ReadyTimeout, 30*time.Second))
	for !p.spec.Ready() {
		select {
		case <-exited:
			if p.killed.Load() {
				return // killed on purpose before it was ready
			}
			tb.Fatalf("%s exited before ready:\n%s", p.spec.Name, Tail(p.spec.LogPath, 40))
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not ready in %v:\n%s", p.spec.Name, cmp.Or(p.spec.ReadyTimeout, 30*time.Second), Tail(p.spec.LogPath, 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Exited is closed once the current run of the process has ended.
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Running reports whether the process runs.
func (p *Proc) Running() bool {
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

// Pid is the process id of the current run.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Signal sends sig to the current run (no-op once it exited).
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	if sig == syscall.SIGKILL {
		p.killed.Store(true)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits (up to 10s) until the process is gone.
func (p *Proc) Kill(tb testing.TB) {
	tb.Helper()
	_ = p.Signal(syscall.SIGKILL)
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		tb.Errorf("%s still running 10s after SIGKILL", p.spec.Name)
	}
}

// Terminate sends SIGTERM and waits up to timeout for the process to end
// by itself; it reports whether it did (else it is still running).
func (p *Proc) Terminate(timeout time.Duration) bool {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited():
		return true
	case <-time.After(timeout):
		return false
	}
}

// Stop ends the process if it still runs: SIGCONT (it may be stopped),
// SIGTERM, and SIGKILL after timeout.
func (p *Proc) Stop(timeout time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.Signal(syscall.SIGCONT)
	if !p.Terminate(timeout) {
		_ = p.Signal(syscall.SIGKILL)
		<-p.Exited()
	}
}

// CPU is the CPU time (user and system) the process has used, over all its
// runs: from /proc while it runs, from its exit status once it ended.
func (p *Proc) CPU() time.Duration {
	p.mu.Lock()
	done, cmd, exited := p.cpuDone, p.cmd, p.exited
	p.mu.Unlock()
	select {
	case <-exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.cpuDone
	default:
	}
	return done + procCPU(cmd.Process.Pid)
}

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every Linux that Go supports.
const clockTick = 100

// procCPU reads utime+stime of a live process from /proc/<pid>/stat (0 when
// it cannot: not Linux, or the process just ended).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / clockTick
}

// Environ is the test's environment without the pushfleet settings
// (PUSHFLEET_*), so that only the flags configure a process, plus extra
// ("KEY=value").
func Environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PUSHFLEET_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// HTTPReady is a Spec.Ready that holds once GET http://addr<path> answers 200.
func HTTPReady(addr, path string) func() bool {
	client := &http.Client{Timeout: time.Second}
	return func() bool {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// FreeAddr returns a loopback address with a port free at the time of the
// call, for a process to listen on.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// LogDir creates a directory for process logs under tb.TempDir().
func LogDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Tail returns the last n lines of the file at path (or why not).
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
