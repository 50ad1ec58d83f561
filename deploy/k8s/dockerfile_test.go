package k8s_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerStage is one FROM … AS name stage of the Dockerfile.
type dockerStage struct {
	name, from, body string
}

// dockerStages splits the Dockerfile into its named stages, in order;
// head is what comes before the first (the global ARGs).
func dockerStages(t *testing.T, df string) (head string, stages []dockerStage) {
	t.Helper()
	from := regexp.MustCompile(`(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)\s+AS\s+(\S+)\s*$`)
	idx := from.FindAllStringSubmatchIndex(df, -1)
	if len(idx) == 0 {
		t.Fatal("Dockerfile: no FROM … AS stage")
	}
	for i, m := range idx {
		end := len(df)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		stages = append(stages, dockerStage{name: df[m[4]:m[5]], from: df[m[2]:m[3]], body: df[m[0]:end]})
	}
	return df[:idx[0][0]], stages
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Dockerfile has one target per binary under cmd/, named after it,
// holding that binary only as its entrypoint, labelled with its title;
// the benchmark tool is in none; every target derives from the runtime
// stage, which sets the OCI version, revision and source labels, and the
// build stage stamps the version into every binary.
func TestDockerfileTargets(t *testing.T) {
	df := readRepoFile(t, "Dockerfile")
	_, stages := dockerStages(t, df)
	byName := map[string]dockerStage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	copies := regexp.MustCompile(`(?m)^COPY\s+--from=build\s+/out/(\S+)\s+/usr/local/bin/\s*$`)

	cmds, err := os.ReadDir(filepath.Join("..", "..", "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{"build": true, "runtime": true}
	for _, e := range cmds {
		if !e.IsDir() {
			continue
		}
		bin := e.Name()
		targets[bin] = true
		s, ok := byName[bin]
		if !ok {
			t.Errorf("Dockerfile: no target %s for cmd/%s", bin, bin)
			continue
		}
		if s.from != "runtime" {
			t.Errorf("target %s: FROM %s, want runtime (its labels, user and base)", bin, s.from)
		}
		var got []string
		for _, m := range copies.FindAllStringSubmatch(s.body, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, []string{bin}) {
			t.Errorf("target %s: copies %v, want its binary only", bin, got)
		}
		if want := `ENTRYPOINT ["/usr/local/bin/` + bin + `"]`; !strings.Contains(s.body, want) {
			t.Errorf("target %s: no %s", bin, want)
		}
		title := "pushfleet-" + bin
		if bin == "pushfleet" {
			title = "pushfleet"
		}
		for _, want := range []string{`org.opencontainers.image.title="` + title + `"`, `org.opencontainers.image.description="`} {
			if !strings.Contains(s.body, want) {
				t.Errorf("target %s: no label %s", bin, want)
			}
		}
	}
	for _, s := range stages {
		if !targets[s.name] {
			t.Errorf("stage %s builds no binary under cmd/ (pushbench and tools have no image)", s.name)
		}
	}
	if strings.Contains(strings.ToLower(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(df, "")), "pushbench") {
		t.Error("the Dockerfile builds or copies pushbench")
	}
	if dockerignore := readRepoFile(t, ".dockerignore"); !regexp.MustCompile(`(?m)^tools/\s*$`).MatchString(dockerignore) {
		t.Error(".dockerignore does not keep tools/ (pushbench) out of the build context")
	}

	runtime := byName["runtime"].body
	for _, want := range []string{
		"ARG VERSION", "ARG REVISION",
		`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.revision="${REVISION}"`,
		`org.opencontainers.image.source="${SOURCE}"`, "USER 65532:65532",
	} {
		if !strings.Contains(runtime, want) {
			t.Errorf("runtime stage: no %s", want)
		}
	}
	build := byName["build"].body
	for _, want := range []string{
		"ARG VERSION", "ARG REVISION", "CGO_ENABLED=0", "-trimpath",
		"-X github.com/pushfleet/pushfleet/internal/version.version=${VERSION}",
		"-X github.com/pushfleet/pushfleet/internal/version.revision=${REVISION}",
		"./cmd/...",
	} {
		if !strings.Contains(build, want) {
			t.Errorf("build stage: no %s", want)
		}
	}
	// The last stage is the default target: the all-in-one.
	if last := stages[len(stages)-1].name; last != "pushfleet" {
		t.Errorf("the default (last) target is %q, want pushfleet", last)
	}
}

// pinnedRef is <image>:<tag>@sha256:<digest>.
var pinnedRef = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)

// Both base images are pinned by digest, the tag kept beside it.
func TestDockerfileBasesPinned(t *testing.T) {
	head, _ := dockerStages(t, readRepoFile(t, "Dockerfile"))
	for _, arg := range []string{"GO_IMAGE", "RUNTIME_IMAGE"} {
		m := regexp.MustCompile(`(?m)^ARG ` + arg + `=(\S+)$`).FindStringSubmatch(head)
		if m == nil {
			t.Errorf("Dockerfile: no global ARG %s=<image>", arg)
			continue
		}
		if !pinnedRef.MatchString(m[1]) {
			t.Errorf("ARG %s=%s: want <image>:<tag>@sha256:<digest> (tools/pin-images.sh -w)", arg, m[1])
		}
	}
}

// tools/pin-images.sh, against a fake crane: -c fails while a pin is not
// the tag's current digest, -w rewrites both ARG lines keeping the tags,
// then -c passes; nothing else in the file changes.
func TestPinImagesScript(t *testing.T) {
	const current = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	bin := t.TempDir()
	crane := "#!/bin/sh\n[ \"$1\" = digest ] || exit 2\ncase \"$2\" in *@*) exit 3 ;; esac\necho " + current + "\n"
	if err := os.WriteFile(filepath.Join(bin, "crane"), []byte(crane), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := readRepoFile(t, "Dockerfile")
	df := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(df, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "tools", "pin-images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(flag string) error {
		cmd := exec.Command("sh", script, flag)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DOCKERFILE="+df)
		out, err := cmd.CombinedOutput()
		t.Logf("pin-images.sh %s:\n%s", flag, out)
		return err
	}
	if err := run("-c"); err == nil {
		t.Fatal("-c passed with pins that are not the current digests")
	}
	if err := run("-w"); err != nil {
		t.Fatalf("-w: %v", err)
	}
	if err := run("-c"); err != nil {
		t.Fatalf("-c after -w: %v", err)
	}
	b, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(orig, "\n") {
		for _, arg := range []string{"ARG GO_IMAGE=", "ARG RUNTIME_IMAGE="} {
			if strings.HasPrefix(line, arg) {
				tag, _, _ := strings.Cut(line, "@")
				line = tag + "@" + current
			}
		}
		want = append(want, line)
	}
	if got := string(b); got != strings.Join(want, "\n") {
		t.Errorf("-w wrote:\n%s\nwant only the two ARG lines re-pinned", got)
	}
}
