package yamlstrict

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/assay-monitor/assay/internal/safefile"
)

// ${file:PATH} is replaced by the content of the file at PATH, less one
// trailing newline, like VAR_FILE. A relative PATH is relative to the
// directory of the file being decoded (as the schemas, specs and
// certificates a check file names are), not to the working directory. The
// value is a secret whatever it holds. PATH runs to the first "}".

const (
	// fileRefPrefix starts the name of a file reference.
	fileRefPrefix = "file:"
	// maxFileRefs bounds the distinct files one decoder reads through
	// ${file:...}, so that a file cannot make the loader read thousands.
	maxFileRefs = 32
)

// fileRead is the outcome of reading one ${file:PATH}.
type fileRead struct {
	value string
	err   error
}

// errTooManyFiles is the error of a reference beyond maxFileRefs.
var errTooManyFiles = fmt.Errorf("more than %d files are read with ${file:...} in one file", maxFileRefs)

// parseFileRef reads "${file:PATH}" at s[i:]; name is "file:PATH".
func parseFileRef(s string, i int) (name string, end int, ok bool) {
	rest, found := strings.CutPrefix(s[i:], "${"+fileRefPrefix)
	if !found {
		return "", 0, false
	}
	k := strings.IndexByte(rest, '}')
	if k < 0 {
		return "", 0, false
	}
	return fileRefPrefix + rest[:k], i + len("${"+fileRefPrefix) + k + 1, true
}

// isFileRef reports whether a reference's name is a ${file:PATH}.
func isFileRef(name string) bool { return strings.HasPrefix(name, fileRefPrefix) }

// withFileRefs makes lookup read the file of a ${file:PATH} reference.
func (d *Decoder) withFileRefs(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if !isFileRef(name) {
			return lookup(name)
		}
		r := d.readFileRef(strings.TrimPrefix(name, fileRefPrefix))
		return r.value, r.err == nil
	}
}

// readFileRef reads the file of ${file:p} once per decoder, bounded in
// size (as VAR_FILE is) and in the number of files.
func (d *Decoder) readFileRef(p string) fileRead {
	if r, ok := d.files[p]; ok {
		return r
	}
	if d.files == nil {
		d.files = map[string]fileRead{}
	}
	var r fileRead
	switch {
	case p == "":
		r.err = errors.New("${file:} needs a path, e.g. ${file:/run/secrets/api_token}")
	case len(d.files) >= maxFileRefs:
		r.err = errTooManyFiles
	default:
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(filepath.Dir(d.File), full)
		}
		b, err := safefile.Read(full, maxSecretFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // why, never the content
			}
			r.err = fmt.Errorf("cannot read ${file:%s}: %w", p, err)
			break
		}
		v := strings.TrimSuffix(string(b), "\n")
		r.value = strings.TrimSuffix(v, "\r")
	}
	d.files[p] = r
	return r
}

// fileRefProblem is the error message of a ${file:PATH} that could not be
// read; ok is false when name is no file reference.
func (d *Decoder) fileRefProblem(name string) (msg string, ok bool) {
	if !isFileRef(name) {
		return "", false
	}
	r := d.readFileRef(strings.TrimPrefix(name, fileRefPrefix))
	if r.err == nil {
		return "", false
	}
	return r.err.Error(), true
}

// SecretRef reports whether the value of the reference name (as ExpandEnv
// tells seen) is a secret: a file read with ${file:PATH}, a variable read
// from VAR_FILE, or a variable that Secret names.
func (d *Decoder) SecretRef(name string) bool {
	return isFileRef(name) || (d.Secret != nil && d.Secret(name)) || fromFile(d.rawLookup, name)
}

// IsFileRef reports whether name, as ExpandEnv tells seen, is a
// ${file:PATH} reference rather than an environment variable.
func IsFileRef(name string) bool { return isFileRef(name) }
