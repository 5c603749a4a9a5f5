package checks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Rule: a capture or parameter name is a credential's when its last word
// is one (access_token, apiKey, client_secret), not when a credential
// word is followed by another (token_type, auth_url, key_id) or is part
// of another word (author, monkey).
func TestCredentialNameIsByLastWord(t *testing.T) {
	for name, want := range map[string]bool{
		"token": true, "access_token": true, "accessToken": true, "refresh_token": true, "id_token": true,
		"api_key": true, "apiKey": true, "APIKey": true, "apikey": true, "x-api-key": true, "XApiKey": true,
		"API_KEY_2": true, "token2": true, "client_secret": true, "clientsecret": true, "password": true,
		"db_password": true, "passwd": true, "pwd": true, "auth": true, "basic_auth": true,
		"Authorization": true, "private_key": true, "privateKey": true, "credentials": true, "sig": true,
		"signature": true, "session_token": true, "jwt": true, "accesstoken": true,

		"token_type": false, "tokenType": false, "expires_in": false, "token_expires_at": false,
		"auth_url": false, "author": false, "key_id": false, "monkey": false, "secret_name": false,
		"signed": false, "password_policy": false, "session": false, "": false, "_": false, "42": false,
	} {
		if got := credentialName(name); got != want {
			t.Errorf("credentialName(%q) = %v, want %v", name, got, want)
		}
	}
}

// resultJSON is everything a result carries, as the JSON report has it.
func resultJSON(t *testing.T, r *Result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Rule: redaction works on values, not on field names. In an OAuth token
// response {"access_token": ..., "token_type": "Bearer"} captured by
// both names, the access token is hidden everywhere (the response it came
// from, the request that sends it, an echo of it) and "Bearer" is not:
// the body still says "token_type":"Bearer" and the capture token_type
// shows Bearer.
func TestTokenTypeBearerIsNotHidden(t *testing.T) {
	const accessToken = "at-Zq81xWvK3m"
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, accessToken)
		case "/me":
			// Echoes what it got, then fails the step on purpose.
			fmt.Fprintf(w, `{"got":%q}`, r.Header.Get("Authorization"))
		}
	})
	c := loadCheck(t, `
checks:
  - name: oauth
    steps:
      - name: token
        request: { method: POST, url: "${BASE}/token" }
        expect: { status: 200 }
        capture:
          access_token: { json: $.access_token }
          token_type: { json: $.token_type }
      - name: me
        request: { url: "${BASE}/me", headers: { Authorization: "{{ .token_type }} {{ .access_token }}" } }
        expect: { json: { $.got: nope } }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if res.Passed {
		t.Fatal("the check passed; the second step must fail to show its response")
	}
	out := resultJSON(t, res)
	if strings.Contains(out, accessToken) || strings.Contains(out, "Zq81xWvK3m") {
		t.Fatalf("the access token leaked: %s", out)
	}
	steps := res.Steps()
	if body := steps[0].Response.Body; body != `{"access_token":"[REDACTED]","token_type":"Bearer","expires_in":3600}` {
		t.Errorf("token response body = %s", body)
	}
	if got := steps[0].Captures; got["token_type"] != "Bearer" || got["access_token"] != Redacted {
		t.Errorf("captures = %v, want token_type Bearer and access_token [REDACTED]", got)
	}
	if got := steps[1].Request.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer ${access_token}" {
		t.Errorf("the request's Authorization = %q, want [Bearer ${access_token}]", got)
	}
	if want := `step "me": json $.got: expected "nope", got "Bearer [REDACTED]"`; res.Message != want {
		t.Errorf("message:\n got %s\nwant %s", res.Message, want)
	}
}

// Rule: a query or form parameter named as a credential (access_token,
// password) makes its value a secret, hidden wherever it appears (a
// server's echo too); one that is not (token_type) stays as sent.
func TestCredentialParametersAreSecretByValue(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fmt.Fprintf(w, "query %s form password=%s", r.URL.RawQuery, r.PostForm.Get("password"))
	})
	c := loadCheck(t, `
checks:
  - name: params
    steps:
      - name: query
        request: { url: "${BASE}/q?token_type=Bearer&access_token=lit-tok-4711" }
        expect: { status: 200 }
      - name: form
        request: { method: POST, url: "${BASE}/f", form: { user: alice, password: lit-pw-0815 } }
        expect: { status: 200 }
`, "BASE", srv.URL)
	res := newTestRunner(t).Run(t.Context(), c)
	out := resultJSON(t, res)
	for _, leak := range []string{"lit-tok-4711", "lit-pw-0815"} {
		if strings.Contains(out, leak) {
			t.Errorf("%s leaked: %s", leak, out)
		}
	}
	steps := res.Steps()
	if got, want := steps[0].Request.URL, srv.URL+"/q?token_type=Bearer&access_token=REDACTED"; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
	if got, want := steps[0].Response.Body, "query token_type=Bearer&access_token=[REDACTED] form password="; got != want {
		t.Errorf("query echo = %q, want %q", got, want)
	}
	if got, want := steps[1].Response.Body, "query  form password=[REDACTED]"; got != want {
		t.Errorf("form echo = %q, want %q", got, want)
	}
}

// Rule: secrets: (a check file's, or LoadOptions.Secrets from
// assay.yaml) marks environment names as secret whatever they are
// called: the value is then referred to as ${NAME} in the request and
// hidden in the response; without the list the same value is shown.
func TestSecretsListMarksVariables(t *testing.T) {
	const session = "sess-9f8e7d6c"
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "session %s", r.Header.Get("X-Session"))
	})
	check := `
checks:
  - name: listed
    steps:
      - request: { url: "${BASE}/", headers: { X-Session: "${SESSION_ID}" } }
`
	env := envMap("BASE", srv.URL, "SESSION_ID", session)
	for _, tc := range []struct {
		name    string
		src     string
		opts    LoadOptions
		request string
		body    string
	}{
		{"not listed", check, LoadOptions{}, session, "session " + session},
		{"in the check file", "secrets: [SESSION_ID]\n" + check, LoadOptions{}, "${SESSION_ID}", "session [REDACTED]"},
		{"in assay.yaml", check, LoadOptions{Secrets: []string{"SESSION_ID"}}, "${SESSION_ID}", "session [REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LookupEnv = env
			cs, errs := tc.opts.parse("checks.yaml", []byte(tc.src))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			res := runCheck(t, cs[0])
			s := res.Steps()[0]
			if !res.Passed || s.Request.Headers["X-Session"][0] != tc.request || s.Response.Body != tc.body {
				t.Fatalf("passed %v, request X-Session %q, body %q; want %q and %q", res.Passed, s.Request.Headers["X-Session"], s.Response.Body, tc.request, tc.body)
			}
		})
	}
}

// Rule: secrets: holds environment variable names; anything else is an
// error at its position.
func TestSecretsListMustHoldNames(t *testing.T) {
	_, errs := LoadOptions{LookupEnv: envMap()}.parse("c.yaml", []byte(`secrets: [API_TOKEN, "my token"]
checks:
  - name: t
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`))
	want := `c.yaml:1:22: secrets[1]: expected an environment variable name like API_TOKEN (letters, digits and '_'), got string "my token"`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("errors:\n%v\nwant:\n%s", errs, want)
	}
}
