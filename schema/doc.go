// Package schema holds the JSON Schema (draft 2020-12) of assay check files,
// checks.schema.json, for editors: with the first line
//
//	# yaml-language-server: $schema=../schema/checks.schema.json
//
// yaml-language-server (VS Code's YAML extension, Neovim, Helix, ...)
// completes and checks a file under checks.d as it is typed.
//
// The loader in package checks is the authority on what a check file means;
// the schema describes the same format for tools, and the tests of this
// package keep the two in step: every example in checks.d validates, the
// schema's objects name exactly the fields of the Go types, and a table of
// documents is accepted or rejected by both alike.
package schema

import _ "embed"

// CheckFile is checks.schema.json, the JSON Schema of a check file.
//
//go:embed checks.schema.json
var CheckFile []byte
