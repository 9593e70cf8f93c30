package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	want := &File{Version: Version, SavedAt: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC), Accounts: map[string]Account{
		"a": {
			Fingerprint: "f", Cursor: time.Date(2026, 3, 14, 11, 59, 0, 0, time.UTC),
			Seen: map[string]time.Time{"id1": time.Date(2026, 3, 14, 11, 58, 0, 0, time.UTC)},
			Events: []EventSeries{
				{EventType: "USER_LOGIN", Source: "CD", Value: 5, Newest: Exemplar{ID: "id1", CreatedAt: time.Date(2026, 3, 14, 11, 58, 0, 0, time.UTC)}},
				{EventType: "USER_LOGIN", Source: "DEVAPI", Value: 0},
			},
			Users:     []UserSeries{{EventType: "USER_LOGIN", Source: "CD", User: "ana@example.com", Value: 5}},
			Countries: []CountrySeries{{EventType: "USER_LOGIN", Country: "GB", Value: 5}},
			LastEvent: map[string]time.Time{"USER_LOGIN": time.Date(2026, 3, 14, 11, 58, 0, 0, time.UTC)},
			Labels:    "email|true", Ingested: 5, Duplicates: 1,
		},
	}}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	// A series without an exemplar is written as before exemplars were.
	if data, err := os.ReadFile(path); err != nil || strings.Count(string(data), `"newest"`) != 1 {
		t.Errorf("want one exemplar in the file (err %v):\n%s", err, data)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state.json.tmp-*")); len(left) != 0 {
		t.Errorf("a successful write left %v", left)
	}
}

// The file is written one account at a time, as json.Marshal writes it
// whole.
func TestWriteEncodesAsJSONMarshal(t *testing.T) {
	saved := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 3} {
		f := &File{Version: Version, SavedAt: saved, Accounts: map[string]Account{}}
		for i := range n {
			f.Accounts[fmt.Sprintf("acct \"%d\"", i)] = Account{Fingerprint: "f", Ingested: float64(i), UserOverflow: float64(i)}
		}
		path := filepath.Join(t.TempDir(), "state.json")
		if err := Write(path, f); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%d accounts: wrote\n%s\nwant\n%s", n, got, want)
		}
	}
}

func TestReadRefusesWhatThisExporterCannotHaveWritten(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"not JSON", "\x00\x01garbage", "decoding state file"},
		{"truncated", `{"version":1,"accounts":{"a":{"fingerprint":"f"`, "decoding state file"},
		{"unknown version", `{"version":99,"accounts":{}}`, "unknown version 99"},
		{"unknown field", `{"version":1,"accounts":{},"cursor":"x"}`, "unknown field"},
		{"data after the state", `{"version":1,"accounts":{}} {}`, "data after the state"},
		{"no fingerprint", `{"version":1,"accounts":{"a":{}}}`, "no fingerprint"},
		{"negative counter", `{"version":1,"accounts":{"a":{"fingerprint":"f","events":[{"event_type":"X","source":"CD","value":-5}]}}}`, "is not a count"},
		{"empty", "", "decoding state file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(path); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Read error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadMissingFileIsNotExist(t *testing.T) {
	if _, err := Read(filepath.Join(t.TempDir(), "state.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read error = %v, want fs.ErrNotExist", err)
	}
}

func TestSetAsideKeepsTheContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	aside, err := SetAside(path, time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".corrupt-20260314T120000Z"; aside != want {
		t.Errorf("set aside as %s, want %s", aside, want)
	}
	if b, _ := os.ReadFile(aside); string(b) != "bad" {
		t.Errorf("the file set aside holds %q", b)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state file is still there: %v", err)
	}
}

// A crash between creating the temporary file and renaming it leaves the
// temporary file; the next start removes it, and only it.
func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "st[1].json")
	keep := []string{path, filepath.Join(dir, "other.json"), filepath.Join(dir, ".other.json.tmp-1"), filepath.Join(dir, ".st1.json.tmp-1")}
	left := []string{filepath.Join(dir, ".st[1].json.tmp-123"), filepath.Join(dir, ".st[1].json.tmp-456")}
	for _, p := range append(keep, left...) {
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveLeftovers(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, left) {
		t.Errorf("removed %v, want %v", removed, left)
	}
	for _, p := range left {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if removed, err := RemoveLeftovers(filepath.Join(t.TempDir(), "state.json")); err != nil || len(removed) != 0 {
		t.Errorf("RemoveLeftovers in a clean folder = %v, %v", removed, err)
	}
}
