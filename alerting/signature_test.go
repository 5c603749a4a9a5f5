package alerting

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignatureScheme(t *testing.T) {
	secret := []byte("whsec_test")
	body := []byte(`{"version":"1","id":"abc"}`)
	ts := time.Unix(1767268800, 0)
	h := http.Header{}
	signHeaders(h, string(secret), ts, body)

	// The documented scheme, computed independently.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1767268800." + string(body)))
	if want := "v1=" + hex.EncodeToString(m.Sum(nil)); h.Get(HeaderSignature) != want || h.Get(HeaderTimestamp) != "1767268800" {
		t.Fatalf("headers %v, want signature %s", h, want)
	}
	if err := VerifySignature(secret, h, body, ts.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(h http.Header, body []byte, secret []byte) (http.Header, []byte, []byte)
		now    time.Time
		want   error
	}{
		{"tampered body", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) {
			return h, []byte(`{"version":"1","id":"abd"}`), s
		}, ts, ErrBadSignature},
		{"wrong secret", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) { return h, b, []byte("other") }, ts, ErrBadSignature},
		{"timestamp changed", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) {
			h = h.Clone()
			h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix()+1, 10))
			return h, b, s
		}, ts, ErrBadSignature},
		{"replayed later", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) { return h, b, s }, ts.Add(6 * time.Minute), ErrStaleTimestamp},
		{"from the future", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) { return h, b, s }, ts.Add(-6 * time.Minute), ErrStaleTimestamp},
		{"unsigned", func(h http.Header, b, s []byte) (http.Header, []byte, []byte) { return http.Header{}, b, s }, ts, ErrNoSignature},
	}
	for _, tc := range cases {
		h2, b2, s2 := tc.mutate(h, body, secret)
		if err := VerifySignature(s2, h2, b2, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// During a rotation the header may carry several signatures.
	h3 := h.Clone()
	h3.Set(HeaderSignature, "v1=00ff, "+h.Get(HeaderSignature))
	if err := VerifySignature(secret, h3, body, ts, 5*time.Minute); err != nil {
		t.Errorf("rotation list rejected: %v", err)
	}
}

// readmeVerify is the verification snippet of the README, verbatim.
func readmeVerify(secret []byte, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get("X-Assay-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return nil, errors.New("missing or stale timestamp")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(r.Header.Get("X-Assay-Signature"), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(want)) {
			return body, nil
		}
	}
	return nil, errors.New("bad signature")
}

// The README's snippet accepts what the webhook notifier sends (signed at
// the real time) and rejects a tampered body.
func TestREADMEVerificationSnippet(t *testing.T) {
	got := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := readmeVerify([]byte("s3cret"), r)
		got <- err
	}))
	defer srv.Close()
	n, err := NewNotifier(&NotifierConfig{Name: "hook", Type: TypeWebhook, URL: srv.URL, Secret: "s3cret"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.(*webhook).s.client.CloseIdleConnections()
	if _, err := n.Notify(context.Background(), sampleEvent(KindFiring)); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("README snippet rejected a real delivery: %v", err)
	}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"tampered":true}`))
	signHeaders(req.Header, "s3cret", time.Now(), []byte(`{"original":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if err := <-got; err == nil {
		t.Fatal("README snippet accepted a tampered body")
	}
}
