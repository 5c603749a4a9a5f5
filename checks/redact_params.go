package checks

import (
	"net/url"
	"strings"
)

// maxSecretParams bounds the query and form parameters one request adds
// as secrets.
const maxSecretParams = 64

// addParamSecrets adds the values of the query and form parameters of a
// request whose name names a credential (access_token, api_key, sig; see
// credentialName): such a value written in the check file is as secret as
// one from the environment, and is then hidden wherever it appears (an
// echo in a response body too), not only in the request's URL. A value
// that holds a known secret already keeps that secret's reference.
func (rd *redactor) addParamSecrets(req *Request, rr *renderedRequest, step int) {
	n := 0
	add := func(k, v, ref string) {
		if n >= maxSecretParams || v == "" || !credentialParam(k) || rd.has(v) {
			return
		}
		n++
		rd.addSecret(secretValue{value: v, ref: ref}, step-1)
	}
	if i := strings.IndexByte(rr.url, '?'); i >= 0 {
		raw := rr.url[i+1:]
		if h := strings.IndexByte(raw, '#'); h >= 0 {
			raw = raw[:h]
		}
		// Split by hand: url.ParseQuery gives up on the first bad pair.
		for _, pair := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
			k, v, _ := strings.Cut(pair, "=")
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
			ref := Redacted
			if t, ok := req.Query[k]; ok {
				ref = templateRef(t)
			}
			add(k, v, ref)
		}
	}
	if req.Form != nil {
		form, _ := url.ParseQuery(string(rr.body))
		for _, k := range sortedKeys(req.Form) {
			add(k, form.Get(k), templateRef(req.Form[k]))
		}
	}
}
