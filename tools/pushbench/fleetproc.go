package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// fleetProc is a running `pushbench fleet` process, steered by JSON lines.
type fleetProc struct {
	mu      sync.Mutex // one command at a time
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte
	exited  chan struct{}
	ready   childReady
	logPath string
}

// startFleet starts a fresh fleet process whose store and log live in dir;
// extra are more `pushbench fleet` flags (the gateway's).
func startFleet(self string, o *options, dir, fakesFile string, extra ...string) (*fleetProc, error) {
	args := append([]string{"fleet"}, o.fleetArgs()...)
	args = append(args, extra...)
	if o.NATSURL != "" {
		args = append(args, "--nats-url="+o.NATSURL)
	} else {
		args = append(args, "--store="+filepath.Join(dir, "jetstream"))
	}
	if fakesFile != "" {
		args = append(args, "--fakes-file="+fakesFile)
	}
	logPath := filepath.Join(dir, "fleet.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if o.FleetGOGC != "" {
		cmd.Env = append(cmd.Env, "GOGC="+o.FleetGOGC)
	}
	if o.FleetGOMEMLIMIT != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+o.FleetGOMEMLIMIT)
	}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start fleet process: %w", err)
	}
	p := &fleetProc{cmd: cmd, stdin: stdin, lines: make(chan []byte, 4), exited: make(chan struct{}), logPath: logPath}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			p.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(p.lines)
	}()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	line, err := p.next(2 * time.Minute)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("fleet process did not start: %w%s", err, p.logTail())
	}
	if err := json.Unmarshal(line, &p.ready); err != nil {
		p.kill()
		return nil, fmt.Errorf("fleet process: %w", err)
	}
	return p, nil
}

func (p *fleetProc) next(timeout time.Duration) ([]byte, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return nil, errors.New("fleet process exited")
		}
		return l, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no answer from the fleet process in %v", timeout)
	}
}

// call sends one command and waits for its answer.
func (p *fleetProc) call(req childReq, timeout time.Duration) (childResp, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var resp childResp
	b, _ := json.Marshal(req)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return resp, fmt.Errorf("fleet process: %w", err)
	}
	line, err := p.next(timeout)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("fleet process answer: %w", err)
	}
	if resp.Err != "" {
		return resp, fmt.Errorf("fleet process: %s: %s", req.Op, resp.Err)
	}
	return resp, nil
}

func (p *fleetProc) stats() (fleetStats, error) {
	r, err := p.call(childReq{Op: "stats"}, 30*time.Second)
	if err != nil || r.Stats == nil {
		return fleetStats{}, errors.Join(err, errors.New("no stats"))
	}
	return *r.Stats, nil
}

// quit stops the fleet gracefully (bounded), then for good.
func (p *fleetProc) quit() {
	_, _ = p.call(childReq{Op: "quit"}, 10*time.Second)
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.kill()
	}
}

func (p *fleetProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// logTail is the end of the fleet's log, for error messages.
func (p *fleetProc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\nfleet log (" + p.logPath + "):\n  " + strings.Join(lines, "\n  ")
}
