package alerting

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRetryClassification: every notifier shares one classification of
// answers: 2xx succeeds; network errors, timeouts, 5xx and 429 are retried
// (with the receiver's Retry-After); any other 4xx fails for good.
func TestRetryClassification(t *testing.T) {
	// A port nothing listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer slow.Close()
	defer close(hang)

	date := sampleNow.Add(90 * time.Second).Format(http.TimeFormat)
	cases := []struct {
		name       string
		url        string
		status     int
		header     map[string]string
		body       string
		retry      bool
		reason     string
		retryAfter time.Duration
	}{
		{"200 succeeds", "", 200, nil, "", false, "", 0},
		{"202 succeeds", "", 202, nil, "", false, "", 0},
		{"connection refused", refused, 0, nil, "", true, ReasonNetwork, 0},
		{"timeout", slow.URL, 0, nil, "", true, ReasonTimeout, 0},
		{"500", "", 500, nil, "boom", true, Reason5xx, 0},
		{"503 with Retry-After", "", 503, map[string]string{"Retry-After": "30"}, "", true, Reason5xx, 30 * time.Second},
		{"429 with Retry-After seconds", "", 429, map[string]string{"Retry-After": "120"}, "", true, Reason429, 2 * time.Minute},
		{"429 with Retry-After date", "", 429, map[string]string{"Retry-After": date}, "", true, Reason429, 90 * time.Second},
		{"429 without Retry-After", "", 429, nil, "", true, Reason429, 0},
		{"400", "", 400, nil, `{"message":"Event object is invalid"}`, false, Reason4xx, 0},
		{"401", "", 401, nil, "", false, Reason4xx, 0},
		{"404", "", 404, nil, "", false, Reason4xx, 0},
		{"410", "", 410, nil, "", false, Reason4xx, 0},
		{"302 is not followed", "", 302, map[string]string{"Location": "/elsewhere"}, "", false, ReasonRedirect, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				r := newReceiver(t, tc.status, tc.body)
				r.header = tc.header
				url = r.URL
			}
			n := notifierFor(t, &NotifierConfig{Type: TypeWebhook, URL: url + "/secret-token-in-path", Timeout: 200e6})
			retry, err := n.Notify(context.Background(), sampleEvent(KindFiring))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want a failure")
			}
			if retry != tc.retry || reasonOf(err) != tc.reason {
				t.Errorf("retry=%v reason=%s, want %v %s (%v)", retry, reasonOf(err), tc.retry, tc.reason, err)
			}
			if de, ok := err.(*DeliveryError); !ok || de.RetryAfter != tc.retryAfter {
				t.Errorf("Retry-After: %#v, want %v", err, tc.retryAfter)
			}
			if got := err.Error(); contains(got, "secret-token-in-path") {
				t.Errorf("the error leaks the URL: %s", got)
			}
		})
	}
}

func TestSlackNeedsOK(t *testing.T) {
	r := newReceiver(t, 200, "invalid_blocks")
	n := notifierFor(t, &NotifierConfig{Type: TypeSlack, URL: r.URL})
	retry, err := n.Notify(context.Background(), sampleEvent(KindFiring))
	if retry || reasonOf(err) != ReasonRejected {
		t.Errorf("200 without ok: retry=%v err=%v", retry, err)
	}
	r2 := newReceiver(t, 404, "channel_not_found")
	retry, err = notifierFor(t, &NotifierConfig{Type: TypeSlack, URL: r2.URL}).Notify(context.Background(), sampleEvent(KindFiring))
	if retry || reasonOf(err) != Reason4xx {
		t.Errorf("404: retry=%v err=%v", retry, err)
	}
}

func TestBackoff(t *testing.T) {
	o := DeliveryOptions{}
	o.defaults()
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 60: 5 * time.Minute} {
		for range 50 {
			d := o.backoff(attempt, 0)
			if d < base/2 || d > base {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
	if d := o.backoff(1, 42*time.Second); d != 42*time.Second {
		t.Errorf("Retry-After not honoured: %v", d)
	}
	if d := o.backoff(1, 48*time.Hour); d != time.Hour {
		t.Errorf("Retry-After not capped: %v", d)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
