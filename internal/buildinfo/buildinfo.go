// Package buildinfo reads what the Go toolchain stamped into the binary
// (the VCS revision, whether the tree was modified, the Go version), so
// that `assay version` and the assay_build_info metric report the same
// revision.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Unknown is the revision of a binary built without VCS information
// (go run, go test, -buildvcs=false, a source tree without .git).
const Unknown = "unknown"

// Info describes the running binary.
type Info struct {
	// Revision is vcs.revision (a full commit hash), or Unknown.
	Revision string
	// Modified is vcs.modified: the working tree had uncommitted changes.
	Modified bool
	// Time is vcs.time, the commit time in RFC 3339, or "".
	Time string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

// Read returns the build information of the running binary.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from build information; bi may be nil.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Revision: Unknown, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time = s.Value
		}
	}
	return info
}
