//go:build linux

package e2e

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// No image registry is reachable and no container engine runs where these
// tests run, so `docker build` cannot. Instead this test runs the
// Dockerfile's own `go build` line (its environment, flags and tags, the
// output redirected to a temporary directory) and checks what the image
// relies on: a static binary, the version stamped in, and time zone data
// embedded so that CRON_TZ= works without /usr/share/zoneinfo.

const testVersion = "v0.0.0-e2e"

// dockerBuild is the build command found in the Dockerfile.
type dockerBuild struct {
	env  []string // NAME=value: ENV of the build stage, then the RUN line's prefix
	args []string // after "go"
	out  int      // index in args of the -o value
}

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	cmd, rest string
	line      int
}

func readDockerfile(t *testing.T) []dockerInstr {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(rest), start})
		cur.Reset()
	}
	return out
}

// parseDockerBuild finds the RUN line with `go build` and expands it as
// `docker build --build-arg VERSION=testVersion` would for this platform.
func parseDockerBuild(t *testing.T, instrs []dockerInstr) dockerBuild {
	t.Helper()
	vars := map[string]string{}
	var env []string
	for _, in := range instrs {
		switch in.cmd {
		case "FROM":
			vars, env = map[string]string{}, nil
		case "ARG":
			for _, a := range strings.Fields(in.rest) {
				name, def, _ := strings.Cut(a, "=")
				vars[name] = def
			}
			// What docker build sets (automatic platform arguments) or
			// what the release passes (--build-arg VERSION=...).
			for name, v := range map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH,
				"BUILDPLATFORM": runtime.GOOS + "/" + runtime.GOARCH, "VERSION": testVersion} {
				if _, declared := vars[name]; declared {
					vars[name] = v
				}
			}
		case "ENV":
			for _, kv := range shellWords(t, in.rest, vars) {
				name, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile:%d: ENV %s: use NAME=value", in.line, in.rest)
				}
				vars[name] = v
				env = append(env, kv)
			}
		case "RUN":
			if !strings.Contains(in.rest, "go build") {
				continue
			}
			words := shellWords(t, in.rest, vars)
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // --mount=type=cache,...
				words = words[1:]
			}
			for len(words) > 0 && isAssignment(words[0]) {
				env = append(env, words[0])
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				t.Fatalf("Dockerfile:%d: the build line must be one `[NAME=value...] go build ...` command, got %q", in.line, in.rest)
			}
			b := dockerBuild{env: env, args: words[1:], out: -1}
			for i, a := range b.args {
				if a == "-o" && i+1 < len(b.args) {
					b.out = i + 1
				}
			}
			if b.out < 0 {
				t.Fatalf("Dockerfile:%d: the go build line has no -o", in.line)
			}
			return b
		}
	}
	t.Fatal("Dockerfile: no RUN line with go build")
	return dockerBuild{}
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// shellWords splits s like a POSIX shell does for a simple command:
// blanks separate words, '...' is literal, "..." and bare words expand
// $NAME and ${NAME} from vars. Anything fancier is refused.
func shellWords(t *testing.T, s string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	expand := func(i int) int { // s[i] == '$'; returns the index after the name
		j := i + 1
		var name string
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				t.Fatalf("Dockerfile: unclosed ${ in %q", s)
			}
			name, j = s[j+1:j+end], j+end+1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			name, j = s[j:k], k
		}
		if name == "" || strings.ContainsAny(name, ":-+?") {
			t.Fatalf("Dockerfile: unsupported expansion in %q", s)
		}
		w.WriteString(vars[name])
		return j
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				t.Fatalf("Dockerfile: unclosed ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+end])
			inWord, i = true, i+end+2
		case c == '"':
			inWord = true
			i++
			for i < len(s) && s[i] != '"' {
				switch {
				case s[i] == '$':
					i = expand(i)
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`$"\`, s[i+1]) >= 0:
					w.WriteByte(s[i+1])
					i += 2
				default:
					w.WriteByte(s[i])
					i++
				}
			}
			if i >= len(s) {
				t.Fatalf(`Dockerfile: unclosed " in %q`, s)
			}
			i++
		case c == '$':
			inWord = true
			i = expand(i)
		case strings.IndexByte(";&|<>()`\\*?", c) >= 0:
			t.Fatalf("Dockerfile: the build line must be a simple command; %q has %q", s, c)
		default:
			inWord = true
			w.WriteByte(c)
			i++
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDockerfileBuild builds the binary the way the image does and checks
// it.
func TestDockerfileBuild(t *testing.T) {
	instrs := readDockerfile(t)
	b := parseDockerBuild(t, instrs)
	t.Logf("Dockerfile build: env %q go %q", b.env, b.args)
	if testing.Short() {
		t.Skip("-short: the -trimpath build shares nothing with the build cache of other builds and takes minutes when cold")
	}

	// What the image relies on must be in the Dockerfile's command.
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		t.Errorf("the build does not set CGO_ENABLED=0: %v", b.env)
	}
	flagValue := func(name string) (string, bool) {
		for i, a := range b.args {
			if a == name && i+1 < len(b.args) {
				return b.args[i+1], true
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
	if !slices.Contains(b.args, "-trimpath") {
		t.Errorf("the build has no -trimpath: %v", b.args)
	}
	if tags, _ := flagValue("-tags"); !slices.Contains(strings.Split(tags, ","), "timetzdata") {
		t.Errorf("the build does not embed time zone data (-tags timetzdata): %v", b.args)
	}
	ldflags, _ := flagValue("-ldflags")
	for _, want := range []string{"-s", "-w", "-X main.version=" + testVersion} {
		if !strings.Contains(" "+ldflags+" ", " "+want+" ") {
			t.Errorf("-ldflags %q lacks %q", ldflags, want)
		}
	}

	bin := filepath.Join(t.TempDir(), "assay")
	args := slices.Clone(b.args)
	args[b.out] = bin
	build := exec.Command("go", args...)
	build.Dir = moduleRoot
	build.Env = append(os.Environ(), b.env...)
	began := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v: %.1f MB", time.Since(began).Round(100*time.Millisecond), float64(st.Size())/1e6)

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("program header %v: the binary is dynamically linked", p.Type)
			}
		}
		for _, name := range []string{".interp", ".dynamic"} {
			if f.Section(name) != nil {
				t.Errorf("section %s present: the binary is dynamically linked", name)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("imports shared libraries %v", libs)
		}
		if f.Section(".symtab") != nil {
			t.Errorf("symbol table present: -ldflags -s did not apply")
		}
	})

	t.Run("build info", func(t *testing.T) {
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "-tags": "timetzdata",
			"GOOS": runtime.GOOS, "GOARCH": runtime.GOARCH} {
			if settings[k] != want {
				t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
			}
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").CombinedOutput()
		// The first line is the version alone; the VCS revision follows.
		first, _, _ := strings.Cut(string(out), "\n")
		if err != nil || first != "assay "+testVersion || !strings.Contains(string(out), "\nrevision: ") {
			t.Fatalf("assay version = %q, %v; want a first line %q and the revision", out, err, "assay "+testVersion)
		}
	})

	// A check on Tokyo time, validated with no time zone database around.
	dir := t.TempDir()
	check := filepath.Join(dir, "tokyo.yaml")
	if err := os.WriteFile(check, []byte(`checks:
  - name: tokyo-morning
    schedule: "CRON_TZ=Asia/Tokyo 0 9 * * *"
    steps:
      - name: get
        request: { method: GET, url: "http://127.0.0.1:1/" }
        expect: { status: 200 }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	noZones := mkdir(t, dir, "empty")
	// TZ unset; ZONEINFO (looked at first) and GOROOT (a fallback to
	// $GOROOT/lib/time/zoneinfo.zip) point at an empty directory.
	env := []string{"ZONEINFO=" + noZones, "GOROOT=" + noZones}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "TZ" && name != "ZONEINFO" && name != "GOROOT" {
			env = append(env, kv)
		}
	}
	validate := func(t *testing.T, wrap []string, bin string) (string, int) {
		t.Helper()
		argv := append(slices.Clone(wrap), bin, "validate", check)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		return string(out), code
	}

	t.Run("CRON_TZ with ZONEINFO empty", func(t *testing.T) {
		out, code := validate(t, nil, bin)
		if code != 0 || !strings.Contains(out, "ok: 1 checks") {
			t.Fatalf("assay validate (TZ unset, ZONEINFO=%s) = exit %d:\n%s", noZones, code, out)
		}
	})

	// The system's /usr/share/zoneinfo would answer too, so the proof is in
	// a mount namespace where the system's zone directories are empty: the
	// image's binary still knows Asia/Tokyo, and the plain build (no
	// timetzdata) does not, which shows the test can tell the two apart.
	t.Run("CRON_TZ without system zoneinfo", func(t *testing.T) {
		var mounts []string
		for _, d := range []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo"} {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				mounts = append(mounts, d)
			}
		}
		script := `for d in ` + strings.Join(mounts, " ") + `; do mount -t tmpfs tmpfs "$d" || exit 97; done; exec "$@"`
		wrap := []string{"unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"}
		probe := exec.Command(wrap[0], append(wrap[1:], "true")...)
		if out, err := probe.CombinedOutput(); err != nil {
			t.Skipf("mount namespaces unavailable (%v: %s); the build setting -tags=timetzdata is the evidence", err, bytes.TrimSpace(out))
		}
		out, code := validate(t, wrap, bin)
		if code != 0 || !strings.Contains(out, "ok: 1 checks") {
			t.Errorf("image binary without system zoneinfo: exit %d:\n%s", code, out)
		}
		out, code = validate(t, wrap, assayBin)
		if code != 2 || !strings.Contains(out, "Asia/Tokyo") {
			t.Errorf("plain build without system zoneinfo: exit %d, want 2 with an unknown time zone:\n%s", code, out)
		}
	})

	// The image's default command, against an empty checks directory (a
	// fresh volume): it serves both probes and stops cleanly on SIGTERM.
	t.Run("default command", func(t *testing.T) {
		var entrypoint, cmd []string
		for _, in := range instrs {
			var dst *[]string
			switch in.cmd {
			case "ENTRYPOINT":
				dst = &entrypoint
			case "CMD":
				dst = &cmd
			default:
				continue
			}
			if err := json.Unmarshal([]byte(in.rest), dst); err != nil {
				t.Fatalf("Dockerfile:%d: %s must be in exec (JSON) form: %v", in.line, in.cmd, err)
			}
		}
		if !slices.Equal(entrypoint, []string{"/assay"}) {
			t.Fatalf("ENTRYPOINT = %q, want [/assay]", entrypoint)
		}
		if !slices.Contains(cmd, "0.0.0.0:9464") || !slices.Contains(cmd, "/etc/assay/checks.d") {
			t.Fatalf("CMD = %q: want --checks /etc/assay/checks.d and --listen 0.0.0.0:9464", cmd)
		}
		checksDir := mkdir(t, t.TempDir(), "checks.d")
		args := slices.Clone(cmd)
		for i, a := range args {
			switch a {
			case "/etc/assay/checks.d":
				args[i] = checksDir
			case "0.0.0.0:9464":
				args[i] = "127.0.0.1:0"
			}
		}
		p := start(t, "image default command", bin, args...)
		var addr string
		p.awaitLine(t, 10*time.Second, `"assay running" log line`, func(l string) bool {
			var m struct{ Msg, Listen string }
			if json.Unmarshal([]byte(l), &m) != nil || m.Msg != "assay running" {
				return false
			}
			addr = m.Listen
			return true
		})
		for _, probe := range []string{"/healthz", "/readyz"} {
			poll(t, 5*time.Second, 50*time.Millisecond, probe, func() (bool, string) {
				code, body := httpDo(t, "GET", "http://"+addr+probe)
				return code == 200, fmt.Sprintf("%d %q", code, body)
			})
		}
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	})
}
