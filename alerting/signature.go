package alerting

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook signature headers. The scheme, like Stripe's and Slack's:
//
//	X-Assay-Timestamp: 1767268800                 (Unix seconds of this attempt)
//	X-Assay-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC over the timestamp header, a dot and the
// raw body, compares in constant time, and rejects a timestamp too far
// from its clock (5 minutes is usual) so a captured request cannot be
// replayed later. Every attempt is signed afresh, so a retry delivered
// hours after the event still carries a current timestamp; the
// Idempotency-Key header (the event id) stays the same across attempts.
const (
	HeaderSignature = "X-Assay-Signature"
	HeaderTimestamp = "X-Assay-Timestamp"
	signatureScheme = "v1"
)

// Sign returns the X-Assay-Signature value for body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	return signatureScheme + "=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature verification errors.
var (
	ErrNoSignature    = errors.New("missing " + HeaderSignature + " or " + HeaderTimestamp)
	ErrBadSignature   = errors.New("signature does not match")
	ErrStaleTimestamp = errors.New("timestamp outside the tolerance (replay?)")
)

// VerifySignature checks a webhook request as a receiver should: the
// signature must match the body and the timestamp must be within
// tolerance of now. The header may list several comma-separated v1=
// signatures (as during a secret rotation); one match is enough.
func VerifySignature(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if ts == "" || sigs == "" {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleTimestamp
	}
	want := mac(secret, ts, body)
	for _, s := range strings.Split(sigs, ",") {
		scheme, value, ok := strings.Cut(strings.TrimSpace(s), "=")
		if !ok || scheme != signatureScheme {
			continue
		}
		got, err := hex.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// signHeaders sets the signature headers for body at ts.
func signHeaders(h http.Header, secret string, ts time.Time, body []byte) {
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign([]byte(secret), ts, body))
}
