// Package scaffold writes check files for assay init: the commented
// starter files, and a check file made from an OpenAPI 3.0 or 3.1 spec.
// It knows the check format only as text; what it writes is loaded by the
// checks package like any file (the tests hold it to that).
package scaffold

import _ "embed"

// Starter files of assay init, relative to the directory it runs in.
const (
	StarterChecksPath = "checks.d/example.yaml"
	StarterConfigPath = "assay.yaml"
)

// StarterChecks is a commented check file that runs against the demo API.
//
//go:embed starter/example.yaml
var StarterChecks []byte

// StarterConfig is a commented global config whose checks.dir is the
// directory of StarterChecks.
//
//go:embed starter/assay.yaml
var StarterConfig []byte
