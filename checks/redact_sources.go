package checks

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Where secrets come from besides the environment and secret captures:
// what a request sends in credential-bearing headers and URL userinfo
// (a literal Authorization or X-Api-Key in the check file is as secret as
// one from the environment), the cookies a server sets, and every
// serialised form of a captured value.

// addRequestSecrets adds the secrets a request of step sends besides its
// auth: the values of sensitive headers, the password of the URL's and
// the proxy's userinfo, and the base64 credentials net/http derives from
// them for an Authorization header.
func (rd *redactor) addRequestSecrets(req *Request, rr *renderedRequest, step int) {
	for k, vs := range rr.headers {
		ck := http.CanonicalHeaderKey(k)
		if !sensitiveHeaders[ck] {
			continue
		}
		ref := Redacted
		if t, ok := req.Headers[k]; ok {
			ref = templateRef(t)
		}
		for _, v := range vs {
			rd.addHeaderSecret(ck, v, ref, step)
		}
	}
	rd.addUserinfo(rr.url)
	rd.addUserinfo(req.Proxy)
	rd.addParamSecrets(req, rr, step)
}

// addHeaderSecret adds the value v of the sensitive header name, and the
// parts a server may echo alone: the credentials after an auth scheme
// (decoded too for Basic) and each cookie value. A value that holds a
// known secret already (Bearer ${API_TOKEN}) is covered by it: adding the
// whole would hide the reference that lets the request be replayed.
func (rd *redactor) addHeaderSecret(name, v, ref string, step int) {
	v = strings.TrimSpace(v)
	if v == "" || v == Redacted || rd.has(v) {
		return
	}
	rd.addSecret(secretValue{value: v, ref: ref}, step-1)
	switch name {
	case "Authorization", "Proxy-Authorization":
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok {
			return
		}
		cred = strings.TrimSpace(cred)
		rd.add(cred)
		if strings.EqualFold(scheme, "Basic") {
			if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
				userPass := string(dec)
				rd.add(userPass)
				if _, pass, ok := strings.Cut(userPass, ":"); ok {
					rd.add(pass)
				}
			}
		}
	case "Cookie":
		for _, kv := range strings.Split(v, ";") {
			if _, val, ok := strings.Cut(kv, "="); ok {
				rd.add(strings.TrimSpace(val))
			}
		}
	}
}

// addUserinfo adds the password of raw's userinfo (https://u:p@host/),
// decoded as net/http sends it, and the base64 of "user:password" that
// net/http sends in an Authorization header for it.
func (rd *redactor) addUserinfo(raw string) {
	if !strings.Contains(raw, "@") {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return
	}
	rd.add(pass)
	rd.add(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass)))
}

// addResponseSecrets adds the values of the cookies a response sets: a
// session a server hands out is as secret in its body as in Set-Cookie.
func (rd *redactor) addResponseSecrets(h http.Header) {
	for _, sc := range h.Values("Set-Cookie") {
		pair, _, _ := strings.Cut(sc, ";")
		if _, val, ok := strings.Cut(pair, "="); ok {
			rd.add(strings.Trim(strings.TrimSpace(val), `"`))
		}
	}
}

// maxSecretLeaves bounds how many strings inside a captured object or
// array become secrets.
const maxSecretLeaves = 64

// addCaptured adds a secret value v captured by step, in each form it is
// written: as a template renders it into a request (fmt's %v, what
// text/template prints: 1.2345678e+07, map[a:b]), as text (a number's
// digits, as a header assertion sees it) and as JSON (a JSON request
// body, an assertion's actual, {"a":"b"}); and, for an object or array,
// each string in it, which a pretty-printed body shows apart. A null or a
// boolean is no secret: it would hide every null or true.
func (rd *redactor) addCaptured(v any, ref string, step int) {
	switch t := v.(type) {
	case nil, bool:
		return
	case string:
		rd.addSecret(secretValue{value: t, ref: ref}, step)
		return
	}
	rd.addSecret(secretValue{value: fmt.Sprint(v), ref: ref}, step)
	if s, ok := textOf(v).(string); ok {
		rd.addSecret(secretValue{value: s, ref: ref}, step)
	}
	if b, err := json.Marshal(v); err == nil {
		rd.addSecret(secretValue{value: string(b), ref: ref}, step)
	}
	leaves := 0
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for _, k := range sortedKeys(t) {
				walk(t[k])
			}
		case string:
			if leaves < maxSecretLeaves {
				leaves++
				rd.add(t)
			}
		}
	}
	walk(v)
}
