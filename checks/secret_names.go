package checks

import (
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// Which names make a value secret. Redaction works on values: a value
// becomes a secret by where it comes from (an environment variable, a
// file, a secret capture, a credential a request sends) and is then
// hidden wherever it appears; no response field is hidden for its name.
//
// Environment variables are secret when their name contains a credential
// word anywhere (secretName: API_TOKEN, DB_PASSWORD, GITHUB_AUTH), when a
// secrets: list names them (the check file's or assay.yaml's), or when
// their value was read from a file (VAR_FILE, ${file:PATH}).
//
// Captures and query or form parameters are named after response and
// protocol fields, where a credential word often describes something
// else (token_type: Bearer, expires_in, auth_url, author): they are secret
// by name only when their last word is a credential (credentialName).

// credentialWords are the last words of a credential's name.
var credentialWords = map[string]bool{
	"token": true, "secret": true, "password": true, "passwd": true, "pwd": true, "pass": true,
	"passphrase": true, "key": true, "apikey": true, "credential": true, "credentials": true,
	"auth": true, "authorization": true, "sig": true, "signature": true, "private": true,
	"privatekey": true, "jwt": true, "bearer": true,
}

// credentialSuffixes end a last word that glues words together
// (accesstoken, clientsecret); short words (key, pass, auth) are matched
// whole only, so that monkey and author are not credentials.
var credentialSuffixes = []string{"token", "secret", "password", "passwd", "passphrase",
	"credential", "credentials", "signature", "authorization", "apikey"}

// credentialName reports whether a capture or parameter name names a
// credential: its last word (words split at '_', '-', '.' and lower-to-
// upper case changes; trailing digits ignored) is token, secret,
// password, key, auth, ... (access_token, apiKey, client_secret,
// API_KEY_2), and not when a credential word is followed by another
// (token_type, auth_url, key_id).
func credentialName(name string) bool {
	w := lastWord(name)
	if credentialWords[w] {
		return true
	}
	for _, s := range credentialSuffixes {
		if strings.HasSuffix(w, s) {
			return true
		}
	}
	return false
}

// lastWord is the last word of name, lower-cased, without trailing
// digits; words of digits alone are skipped. Only ASCII letters make
// words (capture names are ASCII; anything else separates).
func lastWord(name string) string {
	end := len(name)
	for end > 0 && !isLetter(name[end-1]) {
		end-- // trailing separators and digits
	}
	start := end
	for start > 0 && isLetter(name[start-1]) {
		start--
		// A lower-case letter or a digit before an upper-case one ends
		// the word: accessToken, xApiKey, but APIKey is one word.
		if c := name[start]; 'A' <= c && c <= 'Z' && start > 0 && ('a' <= name[start-1] && name[start-1] <= 'z' || '0' <= name[start-1] && name[start-1] <= '9') {
			break
		}
	}
	return strings.ToLower(name[start:end])
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// secretNames is the decoder's test of a variable name: a credential word
// in it, or a name of listed (the file's secrets:) or of o.Secrets.
func (o LoadOptions) secretNames(listed []string) func(string) bool {
	if len(listed) == 0 && len(o.Secrets) == 0 {
		return IsSecretName
	}
	names := make(map[string]bool, len(listed)+len(o.Secrets))
	for _, list := range [][]string{listed, o.Secrets} {
		for _, n := range list {
			names[n] = true
		}
	}
	return func(name string) bool { return names[name] || IsSecretName(name) }
}

// envReference is how a request summary refers to the value of a
// reference: ${NAME} for an environment variable, Redacted for a file
// (no shell variable holds it).
func envReference(name string) string {
	if yamlstrict.IsFileRef(name) {
		return Redacted
	}
	return reference(name)
}
