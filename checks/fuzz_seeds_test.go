package checks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Seed corpora of the fuzz targets (fuzz_test.go): the inputs of the
// package's tests and of issue 13's defects.

// oneCheckSeed is a check file of one check with extra fields.
func oneCheckSeed(extra string) string {
	return "checks:\n  - name: c1\n" + extra + "    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n"
}

// laughsSeed is the "billion laughs" of the loader tests.
func laughsSeed(levels, width int) string {
	var b strings.Builder
	b.WriteString("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), width), ", "))
	}
	fmt.Fprintf(&b, "checks:\n  - name: c1\n    vars: *x%d\n    steps: [ { request: { url: \"http://127.0.0.1:1/\" } } ]\n", levels)
	return b.String()
}

// loaderSeeds are check files from the tests and from issue 13's
// defects.
func loaderSeeds() []string {
	seeds := []string{
		`checks:
  - name: documents-conditional-update
    schedule: "@every 1m"
    timeout: 10s
    labels: { team: docs, severity: page }
    vars:
      base: ${BASE}
    steps:
      - name: read current version
        request: { method: GET, url: "{{ .vars.base }}/documents/42" }
        expect:
          status: 200
          headers: { ETag: { matches: '^(W/)?"[^"]*"$' } }
          json: { "$.id": 42 }
        capture: { etag: { header: ETag } }
      - name: conditional update
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/42"
          headers: { If-Match: "{{ .etag }}", Authorization: "Bearer ${API_TOKEN}" }
          json: { title: "synthetic probe" }
        expect:
          status: [204, "2xx", "200-299"]
          body: { empty: true }
          headers: { ETag: { exists: true, not_equals: "{{ .etag }}" } }
`,
		oneCheckSeed("    schedule: \"0 0 30 2 *\"\n"),
		oneCheckSeed("    schedule: \"0 0 0 30 2 *\"\n"),
		oneCheckSeed("    schedule: \"CRON_TZ=Europe/Berlin 0 0 30 2 *\"\n"),
		oneCheckSeed("    schedule: \"CRON_TZ=UTC\"\n"),
		oneCheckSeed("    schedule: \"@every 2562047h\"\n"),
		oneCheckSeed("    schedule: \"@every 500ms\"\n"),
		oneCheckSeed("    schedule: \"@every -5s\"\n"),
		oneCheckSeed("    schedule: \"0 0 29 2 *\"\n"),
		oneCheckSeed("    timeout: 2562047h\n    retries: { count: 3, backoff: 2h, max_backoff: 1000h }\n"),
		oneCheckSeed("    retries: 9223372036854775807\n"),
		oneCheckSeed("    retries: -1\n"),
		oneCheckSeed("    vars: { h: \"${NOPE:-${EMPTY:-${HOST}}}:${PORT}\" }\n"),
		oneCheckSeed("    vars: { h: \"${A:-${B:-${C:-${D:-${E:-${F:-${G:-${H:-${I:-x}}}}}}}}}\" }\n"),
		oneCheckSeed("    vars: { h: \"${NOPE:-${MISSING}}\", t: \"$${API_TOKEN}\" }\n"),
		oneCheckSeed("    description: \"caf\xe9\"\n"),
		"\xff",
		"checks: []\n# comment\n# \xc0\xaf\n",
		"checks:\n  - name: \"a\x1bb\"\n",
		"checks:\n  - name: \"a\\eb\\u2028c\"\n    steps: [ { request: { url: \"http://127.0.0.1:1/\\e[31m\" } } ]\n",
		"\xff\xfec\x00h\x00e\x00c\x00k\x00s\x00:\x00 \x00[\x00]\x00\n\x00",
		"root:*:19000:0:99999:7:::\n",
		"a: &a [*a]\n",
		"checks: &c [*c]\n",
		laughsSeed(6, 10),
		laughsSeed(4, 10),
		`checks:
  - name: c1
    vars: { n: "3" }
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect:
          headers: { X-Count: { gt: abc, gte: "5", lt: "{{ .vars.n }}", lte: [1, 2] } }
          json:
            $.a: { gt: true, lt: ~, gte: { x: 1 }, lte: 1e3 }
            $.b: { length: { gt: x, lte: 9 } }
            $.f: { gt: .nan, lt: 1e400, in: [0x10, 1_000] }
            $..x[?@.y > 2]: { type: number }
            "$[": 1
          body: { size: { not_equals: big, lt: 10 }, matches: "a{1000}{1000}" }
          tls: { days_remaining: { gte: soon } }
`,
		`checks:
  - name: c1
    steps:
      - request: { method: POST, url: "http://127.0.0.1:1/", body: "{{ range 100000000 }}x{{ end }}" }
      - request: { url: "http://127.0.0.1:1/{{ index .vars.n 5 }}", headers: { X-A: "{{ printf \"%01000000d\" 1 }}" } }
      - request: { url: "http://user:${DB_PASSWORD}@127.0.0.1:1/", query: { q: "${API_TOKEN}" }, form: { password: "${API_TOKEN}" } }
        capture: { token: { json: $.token }, id: { regex: "id=([0-9]+)", group: 2 } }
      - request: { url: "${API_TOKEN}", method: "${API_TOKEN}", proxy: "${API_TOKEN}" }
        expect: { json: { "${API_TOKEN}": 1 }, headers: { X: { matches: "${API_TOKEN}(" } } }
      - request: { url: "http://127.0.0.1:1/{{ .token }}", auth: { bearer: "{{ .vars.x ${API_TOKEN} }}" } }
`,
		`checks:
  - name: c1
    steps:
      - request: { url: "https://127.0.0.1:1/", tls: { ca_file: shadow, cert_file: ca.pem, key_file: shadow } }
        expect: { json_schema: shadow }
      - request: { url: "https://127.0.0.1:1/", tls: { ca_file: ca.pem } }
        expect: { json_schema: bad-pattern.json }
      - request: { url: "https://127.0.0.1:1/" }
        expect: { json_schema: schema.json, status: 200 }
      - request: { url: "https://127.0.0.1:1/" }
        expect: { json_schema: { type: object, properties: { a: { pattern: "${API_TOKEN}(" } } } }
`,
		`checks:
  - name: c1
    openapi: { spec: shadow }
    steps: [ { request: { url: "http://127.0.0.1:1/" } } ]
  - name: c2
    openapi: { spec: spec.yaml, operation: getDocument }
    steps: [ { request: { url: "http://127.0.0.1:1/" } } ]
`,
		`checks:
  - name: c1
    contract: { type: method-not-allowed, url: "http://127.0.0.1:1/", allowed: [GET], methods: [DELETE], timeout: 48h }
  - name: c2
    contract: { type: conditional-update, url: "http://127.0.0.1:1/documents/42", body: { title: x } }
`,
		`checks:
  - name: c1
    slo: { objective: 99.9, window: 30d }
    alert: { notify: [ops], failures: 3, repeat: 1h }
    semantics: strict
    labels: { check: x, __a: y, "1b": z }
    steps: [ { request: { url: "http://127.0.0.1:1/", max_body: 512KiB, max_redirects: -1 } } ]
`,
		"checks:\n  - name: c1\n    steps: [ { request: { url: \"http://127.0.0.1:1/\" }, expect: { json_schema: " +
			strings.Repeat("{ items: ", 64) + "{ type: string }" + strings.Repeat(" }", 64) + " } } ]\n",
		"checks:\n  - name: c1\n    steps: [ { request: { url: \"http://127.0.0.1:1/\" }, expect: { json: { $.a: " +
			strings.Repeat("[", 200) + strings.Repeat("]", 200) + " } } } ]\n",
	}
	// The example checks, as shipped.
	for _, p := range []string{"../checks.d/*.yaml", "../examples/*.yaml"} {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				seeds = append(seeds, string(b))
			}
		}
	}
	return seeds
}

// templateSeeds are templates and values: the tests' and issue 13's
// (loops, recursion and printf widths past the limits).
func templateSeeds() [][2]string {
	return [][2]string{
		{`{{ .vars.base }}/documents/{{ .id }}`, "x"},
		{`{{ .etag }}`, ""},
		{`{{ .value }}{{ .ok }}{{ .id }}`, "{{ .vars.base }}"},
		{`{{ range .list }}{{ . }},{{ end }}`, ""},
		{`{{ range 3 }}{{ . }}{{ end }}`, ""},
		{`{{ printf "%s/v2" .vars.base }}`, "%!s"},
		{`{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" .vars.base }}`, ""},
		{`{{ range 9999 }}{{ end }}ok`, ""},
		{`{{ printf "%01000d" 7 | len }}`, ""},
		{`{{ range 100000000 }}x{{ end }}`, ""},
		{`{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}`, ""},
		{`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`, ""},
		{`{{ define "a" }}{{ template "b" }}{{ template "b" }}{{ end }}{{ define "b" }}{{ range 3000 }}{{ end }}{{ end }}{{ template "a" }}`, ""},
		{`{{ printf "%01000000d%01000000d" 1 2 }}`, ""},
		{`{{ printf "%*d" 2000000 1 }}`, ""},
		{`{{ range 5000 }}{{ printf "%0300d" 1 }}{{ end }}`, ""},
		{`{{ $x := "0123456789" }}{{ range 30 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ len $x }}`, ""},
		{`{{ $x := "<<<<<<<<<<" }}{{ range 30 }}{{ $x = html $x $x }}{{ end }}{{ len $x }}`, ""},
		{`{{ range 9000 }}{{ $x := printf "%0100000d" 1 }}{{ end }}`, ""},
		{`{{ index .vars.n 5 }}`, ""},
		{`{{ .missing }}`, ""},
		{`{{ .obj.a }}-{{ .list }}-{{ .none }}`, ""},
		{`{{ urlquery .value }}{{ js .value }}{{ html .value }}{{ println .value }}`, "a&b<c>\"d'\n"},
		{`{{- .value -}} {{ "x" }}`, "  padded  "},
		{`{{ if .ok }}{{ with .obj }}{{ .a }}{{ end }}{{ else }}no{{ end }}`, ""},
		{`{{ "unclosed`, ""},
		{`{{ .a.b.c.d.e.f }}`, ""},
		{`{{`, "{{"},
		{`plain text`, "}}{{"},
		{`{{ template "nope" }}`, ""},
	}
}

// jsonPathSeeds are queries and bodies: RFC 9535 forms, the loader
// tests' queries, and deep documents with descendant segments (issue 13:
// CPU-bound work bounded).
func jsonPathSeeds() [][2]string {
	deep := strings.Repeat(`{"a":`, 150) + "1" + strings.Repeat("}", 150)
	nested := strings.Repeat("[", 14) + "1" + strings.Repeat("]", 14)
	wide := "[" + strings.TrimSuffix(strings.Repeat(`{"a":[1,2,3]},`, 2000), ",") + "]"
	return [][2]string{
		{"$.id", `{"id": 42}`},
		{"$.items[0].name", `{"items": [{"name": "x"}]}`},
		{"$.items[*].id", `{"items": [{"id": 1}, {"id": 2}]}`},
		{"$..id", `{"a": {"id": 1}, "b": [{"id": 2}]}`},
		{"$..*..*", deep},
		{"$..a..a..a", wide},
		{"$" + strings.Repeat("[*,*,*,*]", 14), nested},
		{"$[?@" + strings.Repeat("[*,*,*,*]", 14) + "]", nested},
		{"$[?count(@[*,*]) > 1 && !@.x && (@.y || !(@.z))]", `[[1, 2], {"y": 1}]`},
		{"$[?@.price < 10].title", `[{"price": 5, "title": "a"}, {"price": 20}]`},
		{"$[?length(@.name) > 2 && match(@.name, 'a.*')]", `[{"name": "abc"}]`},
		{"$['a b', \"c\\u00e9\"]", `{"a b": 1, "cé": 2}`},
		{"$[-1:0:-2]", `[1, 2, 3, 4]`},
		{"$.a[?search(@, '[')]", `{"a": ["x"]}`},
		{"$[", `{}`},
		{"$.a..", `{}`},
		{"$", ``},
		{"$", `not json`},
		{"$", "\"" + strings.Repeat("é", 300) + "\""},
		{"$.*", `{"k": "` + strings.Repeat("x", 1000) + `"}`},
	}
}

// predicateSeeds are predicates (YAML) and actual values (JSON): every
// key, and issue 13's comparisons with no number and enormous regular
// expressions and numbers.
func predicateSeeds() [][2]string {
	return [][2]string{
		{"42", "42"},
		{"{ equals: 42, type: integer }", "42"},
		{"{ gt: 1, gte: \" 5 \", lt: \"{{ .vars.n }}\", lte: 1.5e3 }", "4"},
		{"{ gt: abc, lte: [1, 2] }", "1"},
		{"{ gt: true, lt: ~, gte: { x: 1 } }", "1"},
		{"{ gt: .nan, lt: 1e400, in: [0x10, 1_000, -.inf] }", "16"},
		{"{ length: { gt: x, lte: 9 } }", `"abc"`},
		{"{ length: 3, not_equals: abc, contains: b, not_contains: z }", `"abc"`},
		{"{ matches: '^(W/)?\"[^\"]*\"$' }", `"W/\"x\""`},
		{"{ matches: 'a{1000}{1000}' }", `"a"`},
		{"{ matches: '(a|b|c|d|e|f|g|h|i|j)*(k|l|m|n)*x' }", `"` + strings.Repeat("ab", 3000) + `"`},
		{"{ matches: \"{{ .value }}\" }", `"("`},
		{"{ in: [1, two, { a: 1 }], exists: true, absent: false }", `{"a": 1}`},
		{"{ empty: true, type: array }", `[]`},
		{"{ type: strin }", `""`},
		{"{ in: [] }", `1`},
		{"{}", `1`},
		{"{ equals: \"${API_TOKEN}\", contains: \"${DB_PASSWORD}\" }", `"x"`},
		{"{ equals: \"{{ .id }}\", not_equals: \"{{ .obj }}\" }", `42`},
		{"{ contains: { k: v } }", `{"k": "v"}`},
		{"[1, 2, 3]", `[1, 2, 3]`},
		{"{ equals: \"" + strings.Repeat("x", 500) + "\" }", `"` + strings.Repeat("y", 500) + `"`},
	}
}

// redactSeed is a secret, another secret, a text and a cut of it.
type redactSeed struct {
	secret, other, text string
	cut                 uint16
}

// redactSeeds are the redaction tests' secrets, each echoed in text in
// a form the redactor knows, with cuts inside them.
func redactSeeds() []redactSeed {
	secret := `Zq1xW3vKb/+ &<é>"\Hm7TBp2Lc1`
	forms := formsOf(secret)
	var seeds []redactSeed
	for i, f := range forms {
		text := strings.Repeat("-", 190) + f + strings.Repeat("-", 20)
		seeds = append(seeds, redactSeed{secret, "hunter2!", text, uint16(195 + i%10)})
	}
	return append(seeds,
		redactSeed{"env-secret-1", "literal-99", "https://h/x?token=env-secret-1&a=1", 20},
		redactSeed{"p@ss w&rd", "cap-value-7", "x=p%40ss+w%26rd y=p%40ss%20w%26rd", 5},
		redactSeed{"abc-token-value", "my_tok", "x=abc-token-value", 4},
		redactSeed{"aaaa", "aaa", "aaaaaaaaaaaaa", 7},
		redactSeed{"tok…en", "x…y", "tok…en…(3 more bytes)", 3},
		redactSeed{strings.Repeat("s", 5000), "o", strings.Repeat("s", 12000), 4100},
	)
}
