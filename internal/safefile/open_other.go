//go:build !unix

package safefile

import "os"

// openNonBlocking opens path for reading; systems without O_NONBLOCK rely
// on the Stat before the open.
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
