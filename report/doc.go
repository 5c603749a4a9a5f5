// Package report writes the results of `assay test` for people and for CI:
// a console summary (WriteConsole), JUnit XML (WriteJUnit) and JSON
// (WriteJSON); and a run's requests as curl command lines (Curl).
//
// Every writer consumes []*checks.Result in the order given and produces
// deterministic output: map keys are sorted and nothing depends on the
// wall clock. Request summaries are printed as the engine recorded them;
// redaction of secrets is the engine's job, not this package's.
package report
