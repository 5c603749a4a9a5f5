package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/assay-monitor/assay/checks"
)

// JSONVersion is the version of the document WriteJSON writes. It changes
// only when a field is removed or changes meaning.
const JSONVersion = 1

type jsonReport struct {
	Version int              `json:"version"`
	Passed  int              `json:"passed"`
	Failed  int              `json:"failed"`
	Results []*checks.Result `json:"results"`
}

// WriteJSON writes every result, in full, to w as one indented JSON
// document: {"version":1,"passed":N,"failed":N,"results":[...]}.
// Durations are integer nanoseconds, as checks.Result encodes them.
func WriteJSON(w io.Writer, results []*checks.Result) error {
	doc := jsonReport{Version: JSONVersion, Results: make([]*checks.Result, 0, len(results))}
	for _, r := range results {
		if r != nil {
			doc.Results = append(doc.Results, r)
		}
	}
	doc.Passed, doc.Failed = Summary(doc.Results)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}
