//go:build unix

package safefile

import (
	"errors"
	"net"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSpecialFilesDoNotBlock: a FIFO (with no writer, which would block a
// plain open forever), a symlink to one and a socket are errors, returned
// at once.
func TestSpecialFilesDoNotBlock(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := syscall.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.yaml")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for path, want := range map[string]string{
		fifo: "read " + fifo + ": not a regular file (a named pipe)",
		link: "read " + link + ": not a regular file (a named pipe)",
		sock: "read " + sock + ": not a regular file (a socket)",
	} {
		_, err := Read(path, 0)
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotRegular) {
			t.Errorf("Read(%s) = %v; want %q", path, err, want)
		}
	}
}

// TestOpenedFileIsCheckedAgain: the file opened is checked, not only the
// path: openNonBlocking does not block on a FIFO, and check refuses it.
func TestOpenedFileIsCheckedAgain(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := openNonBlocking(fifo)
	if err != nil {
		t.Fatalf("open of a FIFO with no writer: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := check(fifo, st, DefaultLimit); !errors.Is(err, ErrNotRegular) {
		t.Errorf("check of the opened FIFO: %v", err)
	}
}
