package exporter

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// exportedAccounts is every value of the account label across every series
// the exporter exports.
func exportedAccounts(t *testing.T, e *Exporter) map[string]bool {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	accounts := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "account" {
					accounts[lp.GetValue()] = true
				}
			}
		}
	}
	return accounts
}

// Two shards of one config export disjoint sets of accounts whose union is
// every account, each counted exactly, and each saves its own accounts in
// its own state file.
func TestShardsSplitTheAccounts(t *testing.T) {
	f := realTimeFixture(t)
	start := time.Now()
	f.Sim.Generate(120, start.Add(-30*time.Minute), start)
	want := pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour))
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("account-%02d", i)
	}
	path := filepath.Join(t.TempDir(), "state.json")

	owner := map[string]int{}
	for index := range 2 {
		cfg := stateConfig(f, path, names...)
		cfg.Shard = config.Shard{Index: index, Total: 2}
		e := startFromConfig(t, cfg)
		refresh(e)
		e.Stop()

		exported := exportedAccounts(t, e)
		if len(exported) == 0 {
			t.Fatalf("shard %d of 2 exports no account", index)
		}
		for name := range exported {
			if prev, ok := owner[name]; ok {
				t.Errorf("account %s is exported by shards %d and %d", name, prev, index)
			}
			owner[name] = index
			byAccount := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total")
			got := map[string]float64{}
			for k, v := range byAccount {
				if rest, ok := strings.CutPrefix(k, name+"|"); ok {
					got[rest] = v
				}
			}
			pollertest.AssertCounts(t, got, want)
		}

		saved, err := state.Read(cfg.Shard.StateFile(path))
		if err != nil {
			t.Fatalf("reading shard %d's state file: %v", index, err)
		}
		if got, want := slices.Sorted(maps.Keys(saved.Accounts)), slices.Sorted(maps.Keys(exported)); !slices.Equal(got, want) {
			t.Errorf("shard %d's state file holds %v, want its accounts %v", index, got, want)
		}
	}
	if got := slices.Sorted(maps.Keys(owner)); !slices.Equal(got, names) {
		t.Errorf("the shards export %v together, want every account %v", got, names)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a shard wrote the unsharded state file %s: %v", path, err)
	}
}

// A shard that owns no account, as when replicas outnumber accounts,
// serves anyway and says so.
func TestShardWithoutAccountsServesAndWarns(t *testing.T) {
	f := realTimeFixture(t)
	cfg := stateConfig(f, "", "acme") // FNV-1a 64 of "acme" is odd: shard 1 of 2
	cfg.Shard = config.Shard{Index: 0, Total: 2}
	var logs testutil.SyncBuffer
	e, err := FromConfig(cfg, Options{Logger: log.NewLogfmtLogger(&logs)})
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	if got := exportedAccounts(t, e); len(got) != 0 {
		t.Errorf("shard 0 exports accounts %v, want none", got)
	}
	if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), "No configured account falls in this shard") {
		t.Errorf("no warning that the shard owns no account; logs:\n%s", logs.String())
	}
}
