package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// module is this module's path; rules name packages relative to it.
const module = "github.com/pushfleet/pushfleet"

// pkg is one package of `go list -deps ./...`: the module's packages and
// everything they link, standard library included.
type pkg struct {
	ImportPath string
	Name       string
	Standard   bool
	Imports    []string // of the non-test files: what a binary links
	Deps       []string // every package it links, transitively
}

// rel is p's path inside the module ("internal/fleet"), or "" for a
// package of another module or of the standard library.
func (p *pkg) rel() string { return rel(p.ImportPath) }

func rel(importPath string) string {
	if r, ok := strings.CutPrefix(importPath, module+"/"); ok {
		return r
	}
	return ""
}

// under reports whether the module-relative path r is dir or inside it.
func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

// graph is the package graph, listed once per test binary.
type graph struct {
	pkgs map[string]*pkg
	// module's packages, sorted by import path.
	own []*pkg
}

var loadGraph = sync.OnceValues(func() (*graph, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	// One call for every rule. CGO off, as the image builds (Dockerfile).
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Standard,Imports,Deps", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps ./...: %w\n%s", err, stderr.Bytes())
	}
	g := &graph{pkgs: map[string]*pkg{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		g.pkgs[p.ImportPath] = p
		if p.rel() != "" {
			g.own = append(g.own, p)
		}
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	if len(g.own) == 0 {
		return nil, errors.New("go list listed no package of " + module)
	}
	return g, nil
})

func load(t *testing.T) *graph {
	t.Helper()
	g, err := loadGraph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// isTestCode reports whether importPath is test code: the testing package
// and its sub-packages, or a test helper package, which by convention ends
// in "test" (providertest, natstest, sandboxtest, net/http/httptest,
// nats-server/v2/test…). The standard library's internal/synctest, runtime
// support that sync and time link into every binary, is not.
func isTestCode(p *pkg) bool {
	ip := p.ImportPath
	if ip == "testing" || strings.HasPrefix(ip, "testing/") {
		return true
	}
	if !strings.HasSuffix(path.Base(ip), "test") {
		return false
	}
	return !(p.Standard && (strings.HasPrefix(ip, "internal/") || strings.Contains(ip, "/internal/")))
}

// chain is a shortest import path from one package to another, for
// messages: "cmd/pushfleet → internal/allinone → … → testing".
func (g *graph) chain(from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var hops []string
			for at := to; at != ""; at = prev[at] {
				hops = append(hops, short(at))
			}
			slices.Reverse(hops)
			return strings.Join(hops, " → ")
		}
		if p := g.pkgs[cur]; p != nil {
			for _, next := range p.Imports {
				if _, seen := prev[next]; !seen {
					prev[next] = cur
					queue = append(queue, next)
				}
			}
		}
	}
	return short(from) + " → … → " + short(to)
}

// short drops the module prefix.
func short(importPath string) string {
	if r := rel(importPath); r != "" {
		return r
	}
	return importPath
}
