package demoapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
)

// readBody reads the request content up to maxBodyBytes. Its error is a
// response so the caller can decide when to report it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *response) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			resp := errorResponse(http.StatusRequestEntityTooLarge, "request content exceeds %d bytes", tooLarge.Limit)
			return nil, &resp
		}
		resp := errorResponse(http.StatusBadRequest, "reading request content: %v", err)
		return nil, &resp
	}
	return data, nil
}

// Media types accepted for request content. PATCH also takes JSON Merge
// Patch (RFC 7396), which is what its semantics are.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// checkContentType refuses content the API would otherwise have to guess
// at. A 415 to PATCH says what is accepted in Accept-Patch (RFC 5789 §2.2).
func checkContentType(r *http.Request, patch bool) (response, bool) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == mediaJSON || (patch && mt == mediaMergePatch)) {
		return response{}, true
	}
	accepted := mediaJSON
	if patch {
		accepted = mediaMergePatch + ", " + mediaJSON
	}
	resp := errorResponse(http.StatusUnsupportedMediaType, "Content-Type %q not supported for %s: use %s", ct, r.Method, accepted)
	if patch {
		resp = resp.with("Accept-Patch", accepted)
	}
	return resp, false
}

// decodeMode says how a request's JSON object applies to a document.
type decodeMode int

const (
	modeMerge   decodeMode = iota // PATCH: JSON Merge Patch, absent members unchanged
	modeReplace                   // PUT: the whole document, title and body required
	modeCreate                    // POST: a new document, title and body required
)

// fields are the writable members found in a request; nil means absent.
type fields struct {
	title, body *string
}

// decodeFields parses request content against the document it applies to
// (nil when creating). Content that is not JSON is a 400; JSON that is not a
// valid document (wrong shape, wrong types, missing or read-only members) is
// a 422, so a client can tell a broken encoder from a wrong request.
func decodeFields(data []byte, mode decodeMode, cur *document) (fields, *response) {
	var f fields
	fail := func(status int, format string, args ...any) (fields, *response) {
		resp := errorResponse(status, format, args...)
		return fields{}, &resp
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail(http.StatusBadRequest, "request content is empty: send a JSON object")
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fail(http.StatusBadRequest, "request content is not valid JSON: %v", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return fail(http.StatusUnprocessableEntity, "request content must be a JSON object, got %s", jsonKind(v))
	}

	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first error reported is deterministic

	for _, k := range keys {
		raw := obj[k]
		isNull := string(bytes.TrimSpace(raw)) == "null"
		switch k {
		case "title", "body":
			if isNull {
				if mode == modeMerge {
					return fail(http.StatusUnprocessableEntity, "%s cannot be removed (null in a merge patch): it is required", k)
				}
				return fail(http.StatusUnprocessableEntity, "%s must be a string, got null", k)
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fail(http.StatusUnprocessableEntity, "%s must be a string, got %s", k, rawKind(raw))
			}
			if k == "title" {
				f.title = &s
			} else {
				f.body = &s
			}
		case "id", "version":
			if cur == nil {
				return fail(http.StatusUnprocessableEntity, "%s is assigned by the server; send only title and body", k)
			}
			want := cur.ID
			if k == "version" {
				want = cur.Version
			}
			var n int
			if isNull || json.Unmarshal(raw, &n) != nil || n != want {
				return fail(http.StatusUnprocessableEntity, "%s is read-only: it may be omitted or sent unchanged (%d), got %s", k, want, bytes.TrimSpace(raw))
			}
		default:
			return fail(http.StatusUnprocessableEntity, "unknown member %q: documents have title and body", k)
		}
	}
	if mode != modeMerge && (f.title == nil || f.body == nil) {
		verb := "PUT replaces the whole document"
		if mode == modeCreate {
			verb = "POST creates a document"
		}
		return fail(http.StatusUnprocessableEntity, "%s: title and body are both required", verb)
	}
	return f, nil
}

// jsonKind names the type of a decoded JSON value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func rawKind(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "invalid JSON"
	}
	return jsonKind(v)
}
