package schema_test

import "testing"

// The cases of issue 12's teardown and secrets fields, kept apart from
// the long lists so that the schema and the loader are held to them.
var (
	authoringAccepted = []docCase{
		{name: "finally", yaml: check(`    steps:
      - request: { method: POST, url: "http://127.0.0.1:8787/documents", json: { title: t, body: b } }
        capture: { id: { json: $.id } }
    finally:
      - name: delete
        request: { method: DELETE, url: "http://127.0.0.1:8787/documents/{{ .id }}" }
        expect: { status: 204 }
`)},
		{name: "secrets list", yaml: "secrets: [SESSION_ID, DB_DSN]\n" + check("    steps: [{ request: { url: \"http://127.0.0.1:8787/x\" } }]\n")},
	}
	authoringRejected = []docCase{
		{name: "finally not a list", at: "/checks/0/finally", yaml: check(`    steps: [{ request: { url: "http://127.0.0.1:8787/x" } }]
    finally: { request: { url: "http://127.0.0.1:8787/x" } }
`)},
		{name: "secrets not names", at: "/secrets/0", yaml: "secrets: [\"my token\"]\n" + check("    steps: [{ request: { url: \"http://127.0.0.1:8787/x\" } }]\n")},
	}
)

func TestSchemaAcceptsAuthoringFields(t *testing.T) {
	sch := compile(t)
	for _, tc := range authoringAccepted {
		t.Run(tc.name, func(t *testing.T) {
			if err := validate(t, sch, []byte(tc.yaml)); err != nil {
				t.Errorf("the schema rejects:\n%s\n%v", tc.yaml, err)
			}
			if err := parse(t, tc.yaml); err != nil {
				t.Errorf("the loader rejects a document the schema accepts:\n%s\n%v", tc.yaml, err)
			}
		})
	}
}

func TestSchemaRejectsAuthoringMistakes(t *testing.T) {
	sch := compile(t)
	for _, tc := range authoringRejected {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(t, sch, []byte(tc.yaml))
			if err == nil {
				t.Fatalf("the schema accepts:\n%s", tc.yaml)
			}
			if !errorLocations(err)[tc.at] {
				t.Errorf("no error at %q: %v", tc.at, err)
			}
			if parse(t, tc.yaml) == nil {
				t.Errorf("the loader accepts what the schema rejects:\n%s", tc.yaml)
			}
		})
	}
}
