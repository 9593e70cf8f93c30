package main

import (
	_ "embed"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// releaseVersion is the release the source is of, as in the Prometheus
// repositories' VERSION file: what a build says when Go stamped no version,
// as with `go run`, a source archive, or GOFLAGS=-buildvcs=false.
//
//go:embed VERSION
var releaseVersion string

// stampVersion fills what -ldflags left empty of the version that --version,
// the log and vonage_audit_exporter_build_info show, from what Go stamped
// into the binary, so that a plain `go build` or `go install` says what it
// is. prometheus/common/version already takes the revision from there
// (vcs.revision, with "-modified" for uncommitted changes).
func stampVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	v, date := fromBuildInfo(bi, strings.TrimSpace(releaseVersion))
	if version.Version == "" {
		version.Version = v
	}
	if version.BuildDate == "" {
		version.BuildDate = date
	}
}

// fromBuildInfo returns the main module's version, and the commit time as
// the build date, in the format of the Makefile's BuildDate. Go stamps a
// tag (v1.2.0), or a pseudo-version of the commit, "+dirty" when the
// checkout has changes (v0.0.0-20260314120000-0123456789ab+dirty); without
// version control information, as with `go run`, it says "(devel)" and
// there is no commit time: the version is then release's.
func fromBuildInfo(bi *debug.BuildInfo, release string) (ver, buildDate string) {
	ver = bi.Main.Version
	if ver == "" || ver == "(devel)" {
		ver = release
	}
	for _, s := range bi.Settings {
		if s.Key != "vcs.time" {
			continue
		}
		buildDate = s.Value
		if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
			buildDate = t.UTC().Format("20060102-15:04:05")
		}
	}
	return ver, buildDate
}
