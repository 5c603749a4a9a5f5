package checks

import (
	"fmt"
	"net/http"
)

// RFC 9110 §9.3.4: a successful PUT (or PATCH) may be answered without a
// validator; a server sends an ETag with it only when the representation
// it would send to a GET is the one just written. Apache mod_dav answers
// 204 with no ETag. So by default the conditional-update contract does
// not make an ETag on the write part of the contract: it learns the new
// ETag from a GET after the write, and still proves that the stale
// If-Match gets 412 and changed nothing. write_etag: required keeps the
// stricter pattern, "204 plus the new ETag", for APIs that promise it.

// WriteETag values of the conditional-update contract.
const (
	WriteETagOptional = "optional"
	WriteETagRequired = "required"
)

// checkWriteETag validates write_etag and fills in its default.
func checkWriteETag(d *decoder, ct *Contract, cpath string, at func(string) Position) bool {
	switch ct.WriteETag {
	case "":
		ct.WriteETag = WriteETagOptional
	case WriteETagOptional, WriteETagRequired:
	default:
		d.ErrAt(at("write_etag"), cpath+".write_etag", "expected %s or %s, got %q", WriteETagRequired, WriteETagOptional, ct.WriteETag)
		return false
	}
	return true
}

// learnWriteETag shapes the write step of the contract for write_etag:
// with required it stays as built (a strong ETag other than the read's,
// captured as updated_etag) and there is no step to add; otherwise the
// write asserts its status only and the returned step, a GET after it,
// takes the new ETag instead.
func learnWriteETag(ct *Contract, update *Step) *Step {
	if ct.WriteETag == WriteETagRequired {
		return nil
	}
	update.Name = fmt.Sprintf("conditional write: %s with If-Match succeeds", ct.Method)
	update.Expect.ETag = ""
	update.Expect.Headers = nil
	update.Capture = nil
	return &Step{
		Name:    "read after write: GET returns a new strong ETag",
		Request: ct.request(http.MethodGet),
		Expect: Expect{
			Status:  statusOf(http.StatusOK),
			ETag:    ETagStrong,
			Headers: map[string]*Predicate{"ETag": {NotEquals: templateValue("{{ ." + contractETag + " }}"), Pos: ct.Pos}},
		},
		Capture: map[string]*Capture{contractUpdatedETag: {Header: "ETag", Pos: ct.Pos}},
	}
}

// unchangedETagHint says why a write may leave the ETag as it was, which
// leaves the contract unable to tell a stale If-Match from a current one.
const unchangedETagHint = "the write left the ETag as it was; a server whose ETags hash the content gives the same content the same ETag, so write content that changes each run, e.g. body: 'probe {{ .etag }}'"

// hintUnchangedETag makes the ETag assertion of s, the step that proves
// the write changed the ETag, say so when it finds the old one.
func hintUnchangedETag(s *Step) {
	if s == nil {
		return
	}
	for i, a := range s.assertions {
		if a.name != "header ETag" {
			continue
		}
		eval := a.eval
		s.assertions[i].eval = func(r *response, data map[string]any) []AssertionResult {
			out := eval(r, data)
			for j := range out {
				if !out[j].Passed && out[j].Actual != "nothing" {
					out[j].Message += " (" + unchangedETagHint + ")"
				}
			}
			return out
		}
	}
}
