package main

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name              string
		info              debug.BuildInfo
		wantVer, wantDate string
	}{
		{
			name: "go build in a checkout with changes",
			info: debug.BuildInfo{
				Main: debug.Module{Version: "v0.0.0-20260314120000-0123456789ab+dirty"},
				Settings: []debug.BuildSetting{
					{Key: "vcs", Value: "git"},
					{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
					{Key: "vcs.time", Value: "2026-03-14T12:00:00Z"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			wantVer: "v0.0.0-20260314120000-0123456789ab+dirty", wantDate: "20260314-12:00:00",
		},
		{
			name:    "go install of a tag",
			info:    debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			wantVer: "v1.2.0",
		},
		{
			name:    "go run",
			info:    debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			wantVer: "0.1.0",
		},
		{
			name:    "no main module version",
			info:    debug.BuildInfo{},
			wantVer: "0.1.0",
		},
		{
			name: "a commit time in another zone",
			info: debug.BuildInfo{
				Main:     debug.Module{Version: "v1.2.1-0.20260314120000-0123456789ab"},
				Settings: []debug.BuildSetting{{Key: "vcs.time", Value: "2026-03-14T13:00:00+01:00"}},
			},
			wantVer: "v1.2.1-0.20260314120000-0123456789ab", wantDate: "20260314-12:00:00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ver, date := fromBuildInfo(&tc.info, "0.1.0")
			if ver != tc.wantVer || date != tc.wantDate {
				t.Errorf("fromBuildInfo = %q, %q; want %q, %q", ver, date, tc.wantVer, tc.wantDate)
			}
		})
	}
}

// The release in VERSION is one the changelog describes.
func TestVersionIsInTheChangelog(t *testing.T) {
	changelog, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := "## [" + strings.TrimSpace(releaseVersion) + "]"
	if !strings.Contains(string(changelog), "\n"+heading) {
		t.Errorf("CHANGELOG.md has no section %q for the release in VERSION", heading)
	}
}
