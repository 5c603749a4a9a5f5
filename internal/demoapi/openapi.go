package demoapi

import _ "embed"

// OpenAPISpec is the OpenAPI 3.1 description of the demo API
// (internal/demoapi/openapi.yaml). The example checks validate the demo
// API's responses against the file; tests can use this copy.
//
//go:embed openapi.yaml
var OpenAPISpec []byte
