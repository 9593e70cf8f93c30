package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// eventsByAccount reads vonage_audit_events_total by account, and every
// account any series of /metrics names.
func eventsByAccount(t *testing.T, body string) (events map[string]dto, accounts map[string]bool) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	events, accounts = map[string]dto{}, map[string]bool{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			account, ok := labels["account"]
			if !ok {
				continue
			}
			accounts[account] = true
			if name == "vonage_audit_events_total" {
				if events[account] == nil {
					events[account] = dto{}
				}
				events[account][labels["event_type"]+"|"+labels["source"]] = m.GetCounter().GetValue()
			}
		}
	}
	return events, accounts
}

// Two exporters with --shard=0 and --shard=1 of --total-shards=2 on one
// config export disjoint sets of accounts whose union is every account,
// each counted exactly, each in its own state file; a reload keeps the
// shard.
func TestBinaryShardsSplitTheAccounts(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: 17})
	now := time.Now()
	sim.Generate(60, now.Add(-20*time.Minute), now)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	want := tally(sim.Visible())

	names := make([]string, 8)
	var accounts strings.Builder
	for i := range names {
		names[i] = fmt.Sprintf("account-%d", i)
		fmt.Fprintf(&accounts, "  - name: %s\n    api_key: %s\n    api_secret_file: SECRET_FILE\n", names[i], e2eKey)
	}
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("api_url: %s\npoll_interval: 200ms\nlookback: 1h\nrequests_per_second: 1000\nstate_file: %s\naccounts:\n%s",
		srv.URL, filepath.Join(dir, "state.json"), accounts.String()))

	// Both shards at once, as they run: each on its own accounts.
	var mu sync.Mutex
	owner := map[string]int{}
	t.Run("shards", func(t *testing.T) {
		for shard := range 2 {
			t.Run(fmt.Sprintf("shard %d", shard), func(t *testing.T) {
				t.Parallel()
				p := startExporter(t, nil, "--config.file="+cfg, fmt.Sprintf("--shard=%d", shard), "--total-shards=2")
				var exported map[string]bool
				counted := func(body string, _ map[string]*dto) bool {
					var events map[string]dto
					events, exported = eventsByAccount(t, body)
					if len(exported) == 0 {
						return false
					}
					for name := range exported {
						if !equalNonZero(events[name], want) {
							return false
						}
					}
					return true
				}
				body := waitForScrape(t, p, fmt.Sprintf("shard %d to count its accounts exactly", shard), counted)
				loaded := value(parseExposition(t, []byte(body)), "vonage_audit_config_last_reload_success_timestamp_seconds", "")
				mu.Lock()
				for name := range exported {
					if prev, ok := owner[name]; ok {
						t.Errorf("account %s is exported by shards %d and %d", name, prev, shard)
					}
					owner[name] = shard
				}
				mu.Unlock()

				mine := slices.Sorted(maps.Keys(exported))
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				waitForScrape(t, p, fmt.Sprintf("shard %d to reload", shard), func(body string, fams map[string]*dto) bool {
					return value(fams, "vonage_audit_config_last_reload_success_timestamp_seconds", "") > loaded && counted(body, fams)
				})
				if got := slices.Sorted(maps.Keys(exported)); !slices.Equal(got, mine) {
					t.Errorf("after a reload shard %d exports %v, want %v", shard, got, mine)
				}
				// The state is saved at the latest on the way out.
				p.terminate(t)
				saved, err := state.Read(filepath.Join(dir, fmt.Sprintf("state.shard-%d.json", shard)))
				if err != nil {
					t.Fatalf("shard %d's own state file: %v", shard, err)
				}
				if got := slices.Sorted(maps.Keys(saved.Accounts)); !slices.Equal(got, mine) {
					t.Errorf("shard %d's state file holds %v, want its accounts %v", shard, got, mine)
				}
			})
		}
	})
	if got := slices.Sorted(maps.Keys(owner)); !slices.Equal(got, names) {
		t.Errorf("the shards export %v together, want every account %v", got, names)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); !os.IsNotExist(err) {
		t.Errorf("a shard wrote the unsharded state file: %v", err)
	}
}

// Shard values that name no shard stop the exporter at start, with an
// error naming the flags.
func TestBinaryRefusesBadShards(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--shard=2", "--total-shards=2"}, "--shard=2: with --total-shards=2, the shard must be from 0 to 1"},
		{[]string{"--shard=-1", "--total-shards=2"}, "--shard=-1: with --total-shards=2, the shard must be from 0 to 1"},
		{[]string{"--total-shards=0"}, "--total-shards=0: there must be at least 1 shard"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"--demo", "--web.listen-address=" + freeAddr(t)}, tt.args...)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 {
				t.Errorf("exit code %d, want 2 (usage)", code)
			}
			if !strings.Contains(out.String(), tt.wantErr) {
				t.Errorf("output %q does not say %q", out.String(), tt.wantErr)
			}
		})
	}
}
