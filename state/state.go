// Package state is the exporter's state file: its versioned JSON format,
// atomic writes, and checked loading. No other package knows the file.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Version is the version of the file's format. A file of any other version
// is refused, never guessed at.
const Version = 1

// File is the content of the state file.
type File struct {
	Version  int                `json:"version"`
	SavedAt  time.Time          `json:"saved_at"`
	Accounts map[string]Account `json:"accounts"`
}

// Account is what an account needs to go on counting after a restart
// without counting an event twice: the ids it has seen and the counters
// that include them are saved together, from one snapshot.
type Account struct {
	// Fingerprint says which account, API key, API URL and event type
	// filter the state was counted for; the secret is not part of it.
	Fingerprint string               `json:"fingerprint"`
	Floor       time.Time            `json:"floor"`
	Cursor      time.Time            `json:"cursor"`
	Seen        map[string]time.Time `json:"seen"`
	Events      []EventSeries        `json:"events"`
	Users       []UserSeries         `json:"users"`
	Countries   []CountrySeries      `json:"countries"`
	LastEvent   map[string]time.Time `json:"last_event"`
	// Labels says how the user and country series were labelled (the
	// salt hashed); series labelled otherwise are not restored, so that a
	// switch to user_label hash drops the emails.
	Labels     string  `json:"labels,omitempty"`
	Ingested   float64 `json:"ingested"`
	Duplicates float64 `json:"duplicates"`
	// UserOverflow is vonage_audit_user_overflow_total. Left out when 0,
	// so that a file without overflow still reads in an exporter that
	// predates it.
	UserOverflow float64 `json:"user_overflow,omitempty"`
	// OverflowSeen are the FNV-1a hashes of the user label values counted
	// in UserOverflow that the account remembers, so that a restart counts
	// none of them again. Left out when empty, as UserOverflow is.
	OverflowSeen []uint64 `json:"overflow_seen,omitempty"`
}

// EventSeries is one series of vonage_audit_events_total.
type EventSeries struct {
	EventType string   `json:"event_type"`
	Source    string   `json:"source"`
	Value     float64  `json:"value"`
	Newest    Exemplar `json:"newest,omitzero"`
}

// UserSeries is one series of vonage_audit_user_events_total.
type UserSeries struct {
	EventType string   `json:"event_type"`
	Source    string   `json:"source"`
	User      string   `json:"user"`
	Value     float64  `json:"value"`
	Newest    Exemplar `json:"newest,omitzero"`
}

// Exemplar is the newest event counted for a series, which the series'
// exemplar names after a restart; zero when exemplars are off. A file
// without it is read as it was: the exemplar comes back with the series'
// next event.
type Exemplar struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// CountrySeries is one series of vonage_audit_country_events_total.
type CountrySeries struct {
	EventType string  `json:"event_type"`
	Country   string  `json:"country"`
	Value     float64 `json:"value"`
}

// validate refuses a state that cannot have been written by this exporter:
// applying it could only give wrong counters.
func (f *File) validate() error {
	if f.Version != Version {
		return fmt.Errorf("unknown version %d: this exporter reads version %d", f.Version, Version)
	}
	for name, a := range f.Accounts {
		if a.Fingerprint == "" {
			return fmt.Errorf("account %q: no fingerprint", name)
		}
		values := []float64{a.Ingested, a.Duplicates, a.UserOverflow}
		for _, s := range a.Events {
			values = append(values, s.Value)
		}
		for _, s := range a.Users {
			values = append(values, s.Value)
		}
		for _, s := range a.Countries {
			values = append(values, s.Value)
		}
		for _, v := range values {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("account %q: counter value %v is not a count", name, v)
			}
		}
	}
	return nil
}

// Read reads and checks the state file. A missing file is reported as an
// error wrapping fs.ErrNotExist.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding state file %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decoding state file %s: data after the state", path)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("checking state file %s: %w", path, err)
	}
	return &f, nil
}

// Write replaces the state file atomically: a crash at any instant leaves
// either the old file or the new one, whole, and at worst a temporary file
// that RemoveLeftovers deletes at the next start.
func Write(path string, f *File) error {
	return write(path, f.Version, f.SavedAt, func(yield func(string, Account) bool) {
		for _, name := range slices.Sorted(maps.Keys(f.Accounts)) {
			if !yield(name, f.Accounts[name]) {
				return
			}
		}
	})
}

// WriteAccounts is Write of the accounts that accounts yields, in this
// version. It encodes and writes them one at a time, so that a save holds
// the encoding of one account at a time, not of the whole file.
func WriteAccounts(path string, savedAt time.Time, accounts iter.Seq2[string, Account]) error {
	return write(path, Version, savedAt, accounts)
}

func write(path string, version int, savedAt time.Time, accounts iter.Seq2[string, Account]) (err error) {
	dir, base := split(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return fmt.Errorf("creating temporary state file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = encode(tmp, version, savedAt, accounts); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing temporary state file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing temporary state file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming temporary state file: %w", err)
	}
	// The rename is durable only once the folder is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening state file folder: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing state file folder: %w", err)
	}
	return nil
}

// encode writes the state as json.Marshal writes a File, one account at a
// time.
func encode(w io.Writer, version int, savedAt time.Time, accounts iter.Seq2[string, Account]) error {
	head, err := json.Marshal(File{Version: version, SavedAt: savedAt, Accounts: map[string]Account{}})
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	// The head ends with the empty accounts object, "{}}": the accounts go
	// between its braces.
	var buf bytes.Buffer
	buf.Write(head[:len(head)-2])
	for name, a := range accounts {
		// buf holds the head before the first account only.
		if buf.Len() == 0 {
			buf.WriteByte(',')
		}
		key, err := json.Marshal(name)
		if err != nil {
			return fmt.Errorf("encoding state of account %q: %w", name, err)
		}
		value, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encoding state of account %q: %w", name, err)
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(value)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("writing temporary state file: %w", err)
		}
		buf.Reset()
	}
	buf.WriteString("}}")
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing temporary state file: %w", err)
	}
	return nil
}

// SetAside renames a state file that cannot be used, so that it is kept for
// a look and the next save does not overwrite it.
func SetAside(path string, now time.Time) (string, error) {
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("setting the state file aside: %w", err)
	}
	return aside, nil
}

// RemoveLeftovers deletes the temporary files that a Write cut short by a
// crash left beside the state file, and returns their paths. It is for the
// start, before any Write.
func RemoveLeftovers(path string) ([]string, error) {
	dir, base := split(path)
	leftovers, err := filepath.Glob(filepath.Join(dir, globEscape(tempPrefix(base))+"*"))
	if err != nil {
		return nil, fmt.Errorf("listing leftover temporary state files: %w", err)
	}
	var removed []string
	var errs []error
	for _, p := range leftovers {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing leftover temporary state file: %w", err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

func split(path string) (dir, base string) {
	dir, base = filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return dir, base
}

func tempPrefix(base string) string { return "." + base + ".tmp-" }

// globEscape makes a file name match only itself in a glob pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
