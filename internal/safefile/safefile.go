// Package safefile reads the files assay's configuration names (check
// files, the global config, the schemas, specs and certificates they refer
// to) without trusting what is at the path: only regular files are read
// (a symlink is followed, so a Kubernetes ConfigMap's links work), and
// never more than a size limit. A FIFO would block a reader forever and
// /dev/zero would fill memory; both are errors here instead.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// DefaultLimit is the size limit of Read when none is given: 16 MiB.
const DefaultLimit = 16 << 20

// ErrNotRegular is returned (wrapped in a *fs.PathError) for a path that is
// a directory, a FIFO, a device or a socket after following symlinks.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped in a *fs.PathError) for a file larger
// than the limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the content of the regular file at path, or an error if it
// is not a regular file or is larger than limit bytes (0 means
// DefaultLimit). Errors are *fs.PathError; their Err says why in words,
// e.g. "not a regular file (a named pipe)" or "larger than 16 MiB".
func Read(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	// Stat before opening: opening a FIFO for reading blocks until a
	// writer appears. The opened file is checked again below, since the
	// path may have been replaced in between.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		return nil, err
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		return nil, err
	}
	// The size may grow while reading; read one byte more than the limit
	// to tell.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

func check(path string, st fs.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: path, Err: notRegular{kind(st.Mode())}}
	}
	if st.Size() > limit {
		return tooLarge(path, limit)
	}
	return nil
}

func tooLarge(path string, limit int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: sizeError{limit}}
}

type notRegular struct{ kind string }

func (e notRegular) Error() string        { return "not a regular file (" + e.kind + ")" }
func (e notRegular) Is(target error) bool { return target == ErrNotRegular }

type sizeError struct{ limit int64 }

func (e sizeError) Error() string        { return "larger than " + Size(e.limit) }
func (e sizeError) Is(target error) bool { return target == ErrTooLarge }

// Size renders a byte count as the limits are written: "16 MiB", "512 KiB"
// when exact, else in bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "mode " + m.String()
}
