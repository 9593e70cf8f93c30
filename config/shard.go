package config

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strings"
)

// Shard is the part of the accounts one exporter polls and exports when
// several exporters split them, as kube-state-metrics shards objects: each
// runs with the same config and its own --shard of --total-shards. The
// zero value, like shard 0 of 1, owns every account.
type Shard struct {
	Index int
	Total int
}

// Validate says what is wrong with the --shard and --total-shards values.
func (s Shard) Validate() error {
	switch {
	case s.Total < 1:
		return fmt.Errorf("--total-shards=%d: there must be at least 1 shard", s.Total)
	case s.Index < 0 || s.Index >= s.Total:
		return fmt.Errorf("--shard=%d: with --total-shards=%d, the shard must be from 0 to %d", s.Index, s.Total, s.Total-1)
	}
	return nil
}

// Sharded tells whether the accounts are split between several exporters.
func (s Shard) Sharded() bool { return s.Total > 1 }

// Owns tells whether the account named name is this shard's: the FNV-1a
// 64-bit hash of the name's bytes, modulo the number of shards, is the
// shard's index. A name always hashes to the same shard, so every exporter
// can tell alone which accounts are its own.
func (s Shard) Owns(name string) bool {
	if !s.Sharded() {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()%uint64(s.Total) == uint64(s.Index)
}

// Accounts returns the accounts this shard owns, in their order.
func (s Shard) Accounts(all []Account) []Account {
	owned := make([]Account, 0, len(all))
	for _, a := range all {
		if s.Owns(a.Name) {
			owned = append(owned, a)
		}
	}
	return owned
}

// StateFile returns the shard's own state file: path with ".shard-<index>"
// before its extension (state.json becomes state.shard-1.json), or path
// itself when the accounts are not split. Each shard saves only its own
// accounts and rewrites its whole file at each save, so two shards sharing
// one file would each erase the other's accounts; their own files never mix,
// even on one shared volume.
func (s Shard) StateFile(path string) string {
	if !s.Sharded() || path == "" {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s.shard-%d%s", strings.TrimSuffix(path, ext), s.Index, ext)
}
