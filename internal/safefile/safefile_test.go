package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyRegularFilesAreRead: a regular file and a symlink to one (a
// Kubernetes ConfigMap's layout) are read; a directory or a device, also
// behind a symlink, is an error naming what it is, returned at once.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, name string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain.yaml", "checks: []\n")
	write("..2024_01_01/cm.yaml", "from a configmap\n")
	link("..2024_01_01", "..data")
	cm := link("..data/cm.yaml", "cm.yaml")
	for path, want := range map[string]string{plain: "checks: []\n", cm: "from a configmap\n"} {
		got, err := Read(path, 0)
		if err != nil || string(got) != want {
			t.Errorf("Read(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	sub := filepath.Join(dir, "sub.yaml")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{sub, "not a regular file (a directory)"},
		{link(sub, "dirlink.yaml"), "not a regular file (a directory)"},
		{link("/dev/zero", "zero.yaml"), "not a regular file (a character device)"},
		{"/dev/null", "not a regular file (a character device)"},
	} {
		_, err := Read(tc.path, 0)
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Err.Error() != tc.want || !errors.Is(err, ErrNotRegular) {
			t.Errorf("Read(%s) = %v; want a *fs.PathError saying %q", tc.path, err, tc.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing.yaml"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadIsBoundedBySize: a file of exactly the limit is read, one byte
// more is an error saying the limit, and 0 means the 16 MiB default.
func TestReadIsBoundedBySize(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		size, limit int64
		want        string
	}{
		{1024, 1024, ""},
		{1025, 1024, "larger than 1 KiB"},
		{10, 3, "larger than 3 bytes"},
		{DefaultLimit, 0, ""},
		{DefaultLimit + 1, 0, "larger than 16 MiB"},
	} {
		p := filepath.Join(dir, "f.yaml")
		if err := os.WriteFile(p, []byte(strings.Repeat("x", int(tc.size))), 0o644); err != nil {
			t.Fatal(err)
		}
		data, err := Read(p, tc.limit)
		switch {
		case tc.want == "" && (err != nil || int64(len(data)) != tc.size):
			t.Errorf("%d bytes, limit %d: %d bytes, %v", tc.size, tc.limit, len(data), err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrTooLarge) || !strings.HasSuffix(err.Error(), tc.want)):
			t.Errorf("%d bytes, limit %d: %v; want %q", tc.size, tc.limit, err, tc.want)
		}
	}
}
