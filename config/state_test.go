package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }
	absolute := filepath.Join(dir, "abs.json")
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"absent", oneAccount, "", ""},
		{"relative to the config file", "state_file: state.json\n" + oneAccount, filepath.Join(dir, "state.json"), ""},
		{"absolute", "state_file: " + absolute + "\n" + oneAccount, absolute, ""},
		{"folder missing", "state_file: gone/state.json\n" + oneAccount, "", "c.yml:1: state_file: checking its folder: stat " + filepath.Join(dir, "gone")},
		{"folder is a file", "state_file: c.yml/state.json\n" + oneAccount, "", "c.yml:1: state_file: " + filepath.Join(dir, "c.yml") + " is not a folder"},
		{"names a folder", "state_file: state/\n" + oneAccount, "", "c.yml:1: state_file must name a file, not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(write("c.yml", tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.StateFile != tt.want {
				t.Errorf("StateFile = %q, want %q", c.StateFile, tt.want)
			}
			if tt.want != "" && !strings.Contains(c.Redacted(), "state_file: "+tt.want+"\n") {
				t.Errorf("Redacted does not show state_file:\n%s", c.Redacted())
			}
		})
	}
}
