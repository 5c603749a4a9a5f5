package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want Info
	}{
		{"no build info", nil, Info{Revision: Unknown, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"without VCS", &debug.BuildInfo{GoVersion: "go1.26.0"}, Info{Revision: Unknown, GoVersion: "go1.26.0", Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"with VCS", &debug.BuildInfo{GoVersion: "go1.26.0", Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "4596e4f0aa3c2c8d6f0b1f1c9d3e2a1b0c9d8e7f"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, Info{Revision: "4596e4f0aa3c2c8d6f0b1f1c9d3e2a1b0c9d8e7f", Modified: true, Time: "2026-01-02T03:04:05Z", GoVersion: "go1.26.0", Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"clean tree", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc1234"}, {Key: "vcs.modified", Value: "false"},
		}}, Info{Revision: "abc1234", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromBuildInfo(tc.bi); got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
