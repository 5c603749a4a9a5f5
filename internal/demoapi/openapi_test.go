package demoapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

var updateSpecCopy = flag.Bool("update-openapi", false, "rewrite checks.d/schemas/demo-api.openapi.json from openapi.yaml")

// specCopy is the JSON copy of openapi.yaml that the example checks use:
// checks.d is often deployed alone (mounted into a container), so it
// cannot point at this package's file.
const specCopy = "../../checks.d/schemas/demo-api.openapi.json"

// TestOpenAPICopyInSync keeps the copy equal to openapi.yaml. After
// editing openapi.yaml run:
//
//	go test ./internal/demoapi -run TestOpenAPICopyInSync -update-openapi
func TestOpenAPICopyInSync(t *testing.T) {
	var doc any
	if err := yaml.Unmarshal(OpenAPISpec, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	want, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *updateSpecCopy {
		if err := os.WriteFile(specCopy, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(specCopy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with openapi.yaml; run: go test ./internal/demoapi -run TestOpenAPICopyInSync -update-openapi", specCopy)
	}
}
