package config

import (
	"fmt"
	"testing"
)

func TestShardValidate(t *testing.T) {
	tests := []struct {
		shard   Shard
		wantErr string
	}{
		{Shard{Index: 0, Total: 1}, ""},
		{Shard{Index: 2, Total: 3}, ""},
		{Shard{Index: 0, Total: 0}, "--total-shards=0: there must be at least 1 shard"},
		{Shard{Index: 0, Total: -2}, "--total-shards=-2: there must be at least 1 shard"},
		{Shard{Index: 2, Total: 2}, "--shard=2: with --total-shards=2, the shard must be from 0 to 1"},
		{Shard{Index: -1, Total: 2}, "--shard=-1: with --total-shards=2, the shard must be from 0 to 1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d", tt.shard.Index, tt.shard.Total), func(t *testing.T) {
			err := tt.shard.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// The shard of a name is the FNV-1a 64-bit hash of its bytes modulo the
// number of shards, as the README tells users to compute it.
func TestShardOwnsByFNV1aOfTheName(t *testing.T) {
	tests := []struct {
		name string
		fnv  uint64 // FNV-1a 64, computed apart from Go's hash/fnv
	}{
		{"acme", 514768821131075087},
		{"globex", 9205675773909512750},
		{"initech", 6801944161098443841},
		{"acct-0001", 11103573035097026178},
	}
	for _, tt := range tests {
		for total := 1; total <= 3; total++ {
			for index := range total {
				s := Shard{Index: index, Total: total}
				if want := tt.fnv%uint64(total) == uint64(index); s.Owns(tt.name) != want {
					t.Errorf("shard %d of %d owns %q: %v, want %v", index, total, tt.name, !want, want)
				}
			}
		}
	}
	if !(Shard{}).Owns("acme") {
		t.Error("the zero Shard does not own every account")
	}
}

// Every account belongs to exactly one shard, and shards get about as
// many accounts each.
func TestShardAccountsSplitEveryAccountOnce(t *testing.T) {
	all := make([]Account, 1000)
	for i := range all {
		all[i].Name = fmt.Sprintf("account-%04d", i)
	}
	for _, total := range []int{1, 2, 3, 7} {
		owner := map[string]int{}
		for index := range total {
			owned := Shard{Index: index, Total: total}.Accounts(all)
			if want := len(all) / total; len(owned) < want*8/10 || len(owned) > want*12/10 {
				t.Errorf("shard %d of %d owns %d of %d accounts, want about %d", index, total, len(owned), len(all), want)
			}
			for _, a := range owned {
				if prev, ok := owner[a.Name]; ok {
					t.Fatalf("%q is owned by shards %d and %d of %d", a.Name, prev, index, total)
				}
				owner[a.Name] = index
			}
		}
		if len(owner) != len(all) {
			t.Errorf("%d shards own %d of %d accounts", total, len(owner), len(all))
		}
	}
}

func TestShardStateFile(t *testing.T) {
	tests := []struct {
		shard Shard
		path  string
		want  string
	}{
		{Shard{}, "/data/state.json", "/data/state.json"},
		{Shard{Index: 0, Total: 1}, "/data/state.json", "/data/state.json"},
		{Shard{Index: 0, Total: 2}, "/data/state.json", "/data/state.shard-0.json"},
		{Shard{Index: 1, Total: 2}, "/data/state.json", "/data/state.shard-1.json"},
		{Shard{Index: 1, Total: 2}, "/data.d/state", "/data.d/state.shard-1"},
		{Shard{Index: 1, Total: 2}, "", ""},
	}
	for _, tt := range tests {
		if got := tt.shard.StateFile(tt.path); got != tt.want {
			t.Errorf("shard %d of %d: StateFile(%q) = %q, want %q", tt.shard.Index, tt.shard.Total, tt.path, got, tt.want)
		}
	}
}
