package report

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

func replayResult(steps ...checks.StepResult) *checks.Result {
	passed := true
	var reason checks.Reason
	for _, s := range steps {
		if !s.Passed && !s.Skipped {
			passed, reason = false, s.Reason
			break
		}
	}
	return &checks.Result{ID: 7, Check: "replay", Passed: passed, Reason: reason,
		Attempts: []checks.Attempt{{Number: 1, Passed: passed, Reason: reason, Steps: steps}}}
}

func ran(name string, req checks.RequestSummary) checks.StepResult {
	return checks.StepResult{Name: name, Passed: true, Request: req}
}

func hdr(kv ...string) map[string][]string {
	h := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

var redactedHdr = checks.Redacted

// The steps of the curl tests; the shell test runs the same ones.
var (
	curlGet = ran("list users", checks.RequestSummary{Method: "GET", URL: "http://demo.local/users?page=2",
		Headers: hdr("Accept", "application/json", "User-Agent", "probe/1", "Content-Length", "0", "Host", "api.internal")})
	curlPatch = ran("conditional update", checks.RequestSummary{Method: "PATCH", URL: "http://demo.local/documents/42",
		Headers: hdr("Content-Type", "application/json", "If-Match", `"v1"`), Body: `{"title":"synthetic probe"}`})
	curlBearer = ran("me", checks.RequestSummary{Method: "GET", URL: "https://api.example/me",
		Headers: hdr("Authorization", redactedHdr), Auth: &checks.AuthSummary{Type: "bearer", Secret: "${API_TOKEN}"}})
	curlBasic = ran("admin", checks.RequestSummary{Method: "GET", URL: "https://api.example/admin",
		Headers: hdr("Authorization", redactedHdr), Auth: &checks.AuthSummary{Type: "basic", Username: "admin", Secret: "${ADMIN_PASSWORD}"}})
	curlLogin = checks.StepResult{Name: "login", Passed: true, Captures: map[string]string{"token": redactedHdr, "id": "7"},
		Request: checks.RequestSummary{Method: "POST", URL: "https://api.example/login",
			Headers: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: "user=admin&password=${ADMIN_PASSWORD}"}}
	curlUseToken = ran("use token", checks.RequestSummary{Method: "GET", URL: "https://api.example/items/7",
		Headers: hdr("Authorization", redactedHdr, "X-Api-Key", "${API_KEY}", "X-Token", "${token}"),
		Auth:    &checks.AuthSummary{Type: "bearer", Secret: "${token}"}})
	curlTricky = ran("tricky", checks.RequestSummary{Method: "GET", URL: "http://demo.local/q?x=${API_KEY}&y=$HOME",
		Headers: hdr("X-Weird", "a \"b\" `c` $d ${E} \\ f!g\nh\tz", "X-Empty", "")})
	curlHead = ran("probe", checks.RequestSummary{Method: "HEAD", URL: "http://demo.local/health"})
)

func TestCurl(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *checks.Result
		want string
	}{
		{"GET", replayResult(curlGet), `# check replay (run 7): passed

# step 1: list users: passed
curl "http://demo.local/users?page=2" \
  -H "Accept: application/json" \
  -H "Host: api.internal" \
  -H "User-Agent: probe/1"
`},
		{"PATCH with a JSON body and If-Match", replayResult(curlPatch), `# check replay (run 7): passed

# step 1: conditional update: passed
curl -X PATCH "http://demo.local/documents/42" \
  -H "Content-Type: application/json" \
  -H "If-Match: \"v1\"" \
  --data-binary "{\"title\":\"synthetic probe\"}"
`},
		{"bearer and basic from the environment", replayResult(curlBearer, curlBasic), `# check replay (run 7): passed

# step 1: me: passed
# needs: API_TOKEN (environment)
curl "https://api.example/me" \
  -H "Authorization: Bearer ${API_TOKEN}"

# step 2: admin: passed
# needs: ADMIN_PASSWORD (environment)
curl "https://api.example/admin" \
  -u "admin:${ADMIN_PASSWORD}"
`},
		{"captured token", replayResult(curlLogin, curlUseToken), `# check replay (run 7): passed

# step 1: login: passed
# needs: ADMIN_PASSWORD (environment)
curl -X POST "https://api.example/login" \
  -H "Content-Type: application/x-www-form-urlencoded" \
  --data-binary "user=admin&password=${ADMIN_PASSWORD}"

# step 2: use token: passed
# needs: API_KEY (environment), token (captured by step 1: export it first)
curl "https://api.example/items/7" \
  -H "X-Api-Key: ${API_KEY}" \
  -H "X-Token: ${token}" \
  -H "Authorization: Bearer ${token}"
`},
		{"literal secret", replayResult(checks.StepResult{Name: "legacy", Reason: checks.ReasonAssertion, Message: "status: expected 200, got 401",
			Request: checks.RequestSummary{Method: "POST", URL: "https://u:REDACTED@api.example/x?token=REDACTED&q=[REDACTED]",
				Headers: hdr("Authorization", redactedHdr, "Cookie", redactedHdr), Body: "tok=[REDACTED]",
				Auth: &checks.AuthSummary{Type: "bearer", Secret: redactedHdr}}}), `# check replay (run 7): failed (assertion)

# step 1: legacy: failed (assertion): status: expected 200, got 401
# [REDACTED] stands for a secret whose source assay does not know: replace it before running (in the URL it reads REDACTED)
curl -X POST -g "https://u:REDACTED@api.example/x?token=REDACTED&q=[REDACTED]" \
  -H "Cookie: [REDACTED]" \
  -H "Authorization: Bearer [REDACTED]" \
  --data-binary "tok=[REDACTED]"
`},
		{"quotes, backticks, dollars, newlines", replayResult(curlTricky), `# check replay (run 7): passed

# step 1: tricky: passed
# needs: API_KEY (environment), E (environment)
curl -g "http://demo.local/q?x=${API_KEY}&y=\$HOME" \
  -H "X-Empty;" \
  -H "X-Weird: a \"b\" \` + "`c\\`" + ` \$d ${E} \\ f"'!'"g"$'\n'"h"$'\t'"z"
`},
		{"HEAD", replayResult(curlHead), `# check replay (run 7): passed

# step 1: probe: passed
curl -I "http://demo.local/health"
`},
		{"skipped and unsent steps", &checks.Result{Check: "replay", Reason: checks.ReasonTemplate, Attempts: []checks.Attempt{{}, {Steps: []checks.StepResult{
			curlHead,
			{Name: "build", Reason: checks.ReasonTemplate, Message: `template: template "{{ .x }}": map has no entry for key "x"`,
				Request: checks.RequestSummary{Method: "GET", URL: "{{ .vars.base }}/x"}},
			{Name: "next", Skipped: true, Request: checks.RequestSummary{Method: "GET", URL: "{{ .vars.base }}/y"}},
		}}}}, `# check replay: failed (template); the steps of the last of 2 attempts

# step 1: probe: passed
curl -I "http://demo.local/health"

# step 2: build: failed (template): template: template "{{ .x }}": map has no entry for key "x"
# the request could not be built: nothing was sent

# step 3: next: skipped (an earlier step failed)
`},
		{"bodies and text that would break out", replayResult(
			ran("search\nrm -rf /", checks.RequestSummary{Method: "GET", URL: "http://demo.local/search", Body: `{"q":"x"}`}),
			ran("upload", checks.RequestSummary{Method: "POST", URL: "http://demo.local/files",
				Headers: hdr("Content-Type", "application/octet-stream"), Body: "(2048 bytes of binary data)"}),
			ran("big", checks.RequestSummary{Method: "PUT", URL: "http://demo.local/big", Body: "aaaaaaaaaa…(5000 more bytes)"}),
			ran("at", checks.RequestSummary{Method: "POST", URL: "http://demo.local/at", Body: "@/etc/passwd"}),
			ran("esc\x1b]0;owned\a", checks.RequestSummary{Method: "GET", URL: "http://demo.local/esc", Headers: hdr("X-Term", "\x1b[31mred\xff")}),
		), `# check replay (run 7): passed

# step 1: search\x0arm -rf /: passed
curl -X GET "http://demo.local/search" \
  --data-binary "{\"q\":\"x\"}"

# step 2: upload: passed
# the request body (2048 bytes of binary data) was not recorded: the command sends none
curl -X POST "http://demo.local/files" \
  -H "Content-Type: application/octet-stream"

# step 3: big: passed
# the request body was cut to a preview (5000 more bytes were not recorded): the command sends the preview only
curl -X PUT "http://demo.local/big" \
  --data-binary "aaaaaaaaaa"

# step 4: at: passed
curl -X POST "http://demo.local/at" \
  --data-raw "@/etc/passwd"

# step 5: esc\x1b]0;owned\x07: passed
curl "http://demo.local/esc" \
  -H "X-Term: "$'\x1b'"[31mred"$'\xff'
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Curl(&b, tc.r); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                 `""`,
		"plain":            `"plain"`,
		"${A}${B_2}":       `"${A}${B_2}"`,
		"${2A} ${} ${A-b}": `"\${2A} \${} \${A-b}"`,
		"$${A}":            `"\$${A}"`,
		"a\n\nb":           `"a"$'\n\n'"b"`,
		"!":                `'!'`,
		"it's":             `"it's"`,
		"\x00'\\":          `$'\x00'"'\\"`,
		"é\u202e":          `"é"$'\xe2\x80\xae'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// The rendered commands, run by bash with curl replaced by a function that
// prints its arguments, give curl exactly the intended method, URL,
// headers and body, with the references expanded and nothing else. bash
// runs them as a script (bash -c) and as an interactive shell reading
// them, which is what pasting does (there '!' would expand history).
func TestCurlThroughBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	env := []string{
		"PATH=/nonexistent", "HOME=/should-not-appear", "HISTFILE=/dev/null", "PS1=", "PS2=",
		`API_TOKEN=t0k$en "with" spaces * and \ backslash`,
		`ADMIN_PASSWORD=p@ss:w'rd!`,
		"API_KEY=k-1",
		"E=e!e `x`",
		"token=captured tok",
	}
	r := replayResult(curlGet, curlPatch, curlBearer, curlBasic, curlLogin, curlUseToken, curlTricky, curlHead,
		ran("weird body", checks.RequestSummary{Method: "POST", URL: "http://demo.local/w",
			Body: "line1\nline2\r\n\"${API_KEY}\" '$(id)' `id` !! \\n\x01"}))
	want := [][]string{
		{"http://demo.local/users?page=2", "-H", "Accept: application/json", "-H", "Host: api.internal", "-H", "User-Agent: probe/1"},
		{"-X", "PATCH", "http://demo.local/documents/42", "-H", "Content-Type: application/json", "-H", `If-Match: "v1"`,
			"--data-binary", `{"title":"synthetic probe"}`},
		{"https://api.example/me", "-H", `Authorization: Bearer t0k$en "with" spaces * and \ backslash`},
		{"https://api.example/admin", "-u", `admin:p@ss:w'rd!`},
		{"-X", "POST", "https://api.example/login", "-H", "Content-Type: application/x-www-form-urlencoded",
			"--data-binary", `user=admin&password=p@ss:w'rd!`},
		{"https://api.example/items/7", "-H", "X-Api-Key: k-1", "-H", "X-Token: captured tok", "-H", "Authorization: Bearer captured tok"},
		{"-g", "http://demo.local/q?x=k-1&y=$HOME", "-H", "X-Empty;", "-H", "X-Weird: a \"b\" `c` $d e!e `x` \\ f!g\nh\tz"},
		{"-I", "http://demo.local/health"},
		{"-X", "POST", "http://demo.local/w", "--data-binary", "line1\nline2\r\n\"k-1\" '$(id)' `id` !! \\n\x01"},
	}
	var script bytes.Buffer
	if err := Curl(&script, r); err != nil {
		t.Fatal(err)
	}
	// NUL-separated, as arguments may hold newlines; END closes a call.
	const fake = "curl() { printf '%s\\0' \"$@\" END; }\n"
	for _, mode := range []struct {
		name string
		cmd  func(ctx context.Context) *exec.Cmd
	}{
		{"bash -c", func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, bash, "--norc", "--noprofile", "-c", fake+script.String())
		}},
		{"interactive bash", func(ctx context.Context) *exec.Cmd {
			c := exec.CommandContext(ctx, bash, "--norc", "--noprofile", "-i")
			c.Stdin = strings.NewReader(fake + script.String())
			return c
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := mode.cmd(ctx)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("bash: %v\n%s", err, stderr.String())
			}
			if strings.Contains(stderr.String(), "event not found") || strings.Contains(stderr.String(), "command not found") {
				t.Errorf("bash complained:\n%s", stderr.String())
			}
			var got [][]string
			var call []string
			for _, arg := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
				if arg == "END" {
					got = append(got, call)
					call = nil
					continue
				}
				call = append(call, arg)
			}
			if len(got) != len(want) {
				t.Fatalf("%d curl calls, want %d:\n%q\nscript:\n%s", len(got), len(want), got, script.String())
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("call %d:\n got %q\nwant %q", i+1, got[i], want[i])
				}
			}
		})
	}
}
