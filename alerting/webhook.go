package alerting

import (
	"bytes"
	"context"
	"net/http"
)

// Webhook request headers besides the signature.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderEvent          = "X-Assay-Event"
)

// webhook POSTs the Event as JSON (or the configured template), signed.
type webhook struct {
	cfg *NotifierConfig
	s   *sender
}

// render returns the body and its content type.
func (w *webhook) render(ev *Event) ([]byte, string, error) {
	if w.cfg.body == nil {
		b, err := marshal(ev)
		return b, "application/json", err
	}
	var buf bytes.Buffer
	if err := w.cfg.body.Execute(&buf, ev); err != nil {
		return nil, "", err
	}
	if buf.Len() > maxTemplateBodyBytes {
		return nil, "", &DeliveryError{Reason: ReasonInvalid, Msg: "rendered body larger than 1 MiB"}
	}
	return buf.Bytes(), "application/json", nil
}

func (w *webhook) Notify(ctx context.Context, ev *Event) (bool, error) {
	body, ctype, err := w.render(ev)
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: "rendering the body: " + err.Error()}
	}
	target := hostOf(w.cfg.URL)
	status, respBody, h, err := w.s.post(ctx, target, w.cfg.URL, ctype, body, func(h http.Header) {
		h.Set(HeaderIdempotencyKey, ev.ID)
		h.Set(HeaderEvent, string(ev.Kind))
		w.cfg.headers(h)
		if w.cfg.Secret != "" {
			signHeaders(h, w.cfg.Secret, w.s.now(), body)
		}
	})
	if err != nil {
		return transportRetry(err), err
	}
	return w.s.classify(target, status, respBody, h)
}
