package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
)

// logfmtPairRE matches a key and its value, bare or quoted, in go-kit's logfmt.
var logfmtPairRE = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

func decodeLine(t *testing.T, format, line string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	if format == "json" {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("line %q: %s is %T, want a string", line, k, v)
			}
			fields[k] = s
		}
		return fields
	}
	for _, m := range logfmtPairRE.FindAllStringSubmatch(line, -1) {
		fields[m[1]] = strings.Trim(m[2], `"`)
	}
	return fields
}

// TestLoggerOneFormat checks that a go-kit line and an slog line, as
// exporter-toolkit writes them, look alike: the same keys, ts in UTC and no
// second timestamp under slog's key time.
func TestLoggerOneFormat(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			logger, slogger := newLoggerTo(&buf, format, "info")
			level.Info(logger).Log("msg", "from go-kit", "k", "v")
			slogger.With("component", "web").Info("from slog", "k", "v")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("want 2 lines, got %q", lines)
			}
			if format == "logfmt" {
				keys := func(line string) (ks []string) {
					for _, m := range logfmtPairRE.FindAllStringSubmatch(line, 3) {
						ks = append(ks, m[1])
					}
					return ks
				}
				if !slices.Equal(keys(lines[0]), keys(lines[1])) {
					t.Errorf("lines start with keys %q and %q, want the same order", keys(lines[0]), keys(lines[1]))
				}
			}
			for i, want := range []string{"from go-kit", "from slog"} {
				f := decodeLine(t, format, lines[i])
				if f["msg"] != want || f["level"] != "info" || f["k"] != "v" {
					t.Errorf("line %q: want msg %q, level info, k v", lines[i], want)
				}
				if _, ok := f["time"]; ok {
					t.Errorf("line %q has the key time", lines[i])
				}
				ts, err := time.Parse(time.RFC3339Nano, f["ts"])
				if err != nil || ts.Location() != time.UTC {
					t.Errorf("line %q: ts %q is not an RFC 3339 UTC time: %v", lines[i], f["ts"], err)
				}
				if !strings.HasPrefix(f["caller"], "log_test.go:") {
					t.Errorf("line %q: caller %q, want this test's file", lines[i], f["caller"])
				}
			}
		})
	}
}

// TestLoggerLevel checks that --log.level filters go-kit and slog lines alike.
func TestLoggerLevel(t *testing.T) {
	tests := []struct {
		lvl  string
		want []string
	}{
		{"debug", []string{"kit debug", "slog debug", "kit info", "slog info", "kit warn", "slog warn"}},
		{"info", []string{"kit info", "slog info", "kit warn", "slog warn"}},
		{"warn", []string{"kit warn", "slog warn"}},
		{"error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.lvl, func(t *testing.T) {
			var buf bytes.Buffer
			logger, slogger := newLoggerTo(&buf, "logfmt", tt.lvl)
			level.Debug(logger).Log("msg", "kit debug")
			slogger.Debug("slog debug")
			level.Info(logger).Log("msg", "kit info")
			slogger.Info("slog info")
			level.Warn(logger).Log("msg", "kit warn")
			slogger.Warn("slog warn")
			var got []string
			for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
				if line != "" {
					got = append(got, decodeLine(t, "logfmt", line)["msg"])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("--log.level=%s logged %q, want %q", tt.lvl, got, tt.want)
			}
		})
	}
}
