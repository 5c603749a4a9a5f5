package openapi

import "testing"

// Rule: a server URL with variables counts with their defaults, so that a
// request under its base path finds its operation.
func TestServerVariablesGiveTheBasePath(t *testing.T) {
	s := mustLoad(t, writeSpec(t, `openapi: 3.0.3
info: { title: t, version: "1" }
servers: [{ url: "https://{host}/{version}", variables: { host: { default: api.example.com }, version: { default: v2 } } }]
paths:
  /health:
    get:
      responses: { "200": { description: ok } }
`))
	if op, _ := s.Find("GET", "/v2/health"); op == nil || op.Path != "/health" {
		t.Fatalf("Find(GET /v2/health) = %v, want the operation of /health", op)
	}
	if op, _ := s.Find("GET", "/v3/health"); op != nil {
		t.Fatalf("Find(GET /v3/health) = %v, want none", op)
	}
}
