package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/maintenance"
)

// maxSilenceBody bounds the body of POST /api/v1/silences: 32 matchers
// of 1 KiB values and a comment fit with room.
const maxSilenceBody = 64 << 10

// registerSilences adds the silence endpoints. Writes are behind Access
// like every write (the API token); reads are refused on a public page,
// whose visitors see the windows on the page but not who silenced what.
func registerSilences(mux *http.ServeMux, o Options) {
	cal := o.Maintenance
	ready := func(w http.ResponseWriter) bool {
		if cal == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "silences are not available: no store"})
			return false
		}
		return true
	}
	fail := func(w http.ResponseWriter, err error) {
		var inv *maintenance.InvalidError
		switch {
		case errors.As(err, &inv):
			badRequest(w, "%s", inv.Msg)
		case errors.Is(err, maintenance.ErrTooMany):
			writeJSON(w, http.StatusConflict, map[string]string{"error": "too many silences: at most 1000 active or pending; expire some first"})
		case errors.Is(err, history.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such silence"})
		case errors.Is(err, maintenance.ErrNoStore):
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "silences are not available: no store"})
		default:
			serverError(w, err)
		}
	}
	public := func(w http.ResponseWriter) bool {
		if o.Public {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "not available on a public status page (web.public)"})
			return true
		}
		return false
	}
	mux.HandleFunc("GET /api/v1/silences", func(w http.ResponseWriter, r *http.Request) {
		if public(w) || !ready(w) {
			return
		}
		ss, err := cal.Silences(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"silences": ss})
	})
	mux.HandleFunc("GET /api/v1/silences/{id}", func(w http.ResponseWriter, r *http.Request) {
		if public(w) || !ready(w) {
			return
		}
		ss, err := cal.Silences(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		for _, s := range ss {
			if s.ID == r.PathValue("id") {
				writeJSON(w, http.StatusOK, s)
				return
			}
		}
		fail(w, history.ErrNotFound)
	})
	mux.HandleFunc("POST /api/v1/silences", func(w http.ResponseWriter, r *http.Request) {
		if !ready(w) {
			return
		}
		var n maintenance.NewSilence
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSilenceBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "the body is larger than 64 KiB"})
				return
			}
			badRequest(w, "invalid silence: %v (want {\"matchers\": [{\"name\": \"check\", \"value\": \"db-backup\"}], \"ends\": \"2026-01-01T04:00:00Z\", \"comment\": \"...\"})", err)
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			badRequest(w, "invalid silence: one JSON object expected")
			return
		}
		s, err := cal.CreateSilence(r.Context(), n)
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Location", "/api/v1/silences/"+s.ID)
		writeJSON(w, http.StatusCreated, s)
	})
	mux.HandleFunc("DELETE /api/v1/silences/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !ready(w) {
			return
		}
		s, err := cal.ExpireSilence(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
}
