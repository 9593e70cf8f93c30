#!/bin/sh
# Runs the performance benchmarks and the API-call accounting against the
# simulator, and prints every figure beside its baseline or bound. Ratios
# matter, not absolute times: the baseline runs in the same process.
# Each benchmark runs COUNT times (default 3) and the fastest run is kept.
#
# scripts/bench.sh scale runs, instead, the built exporter over 1,000
# accounts of a simulator, polled every 2 s with a state file (BenchmarkScale
# in the root package, about 2 to 4 minutes), and prints its figures.
set -eu
cd "$(dirname "$0")/.."
count=${COUNT:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ "${1:-}" = scale ]; then
	echo "Running the 1,000-account scale run (a few minutes)..." >&2
	status=0
	go test -count=1 -run '^$' -bench '^BenchmarkScale$' -benchtime=1x -timeout 15m . >"$out" 2>&1 || status=$?
	if [ "$status" -ne 0 ]; then
		cat "$out"
		exit "$status"
	fi
	grep -E '^(Scale:|\|)' "$out"
	exit 0
fi

echo "Running benchmarks (a few minutes)..." >&2
# run runs one benchmark command into $out, and on failure shows what it
# printed before the trap removes it.
run() {
	"$@" >>"$out" 2>&1 || {
		cat "$out"
		exit 1
	}
}
run go test -run '^$' -bench '^BenchmarkIngest$' -benchtime=3000x -count="$count" ./poller
run go test -run '^$' -bench '^BenchmarkScrape$' -benchtime=10x -count="$count" ./collector
run go test -run '^$' -bench '^BenchmarkScrapeDuringSlowPoll$' -benchtime=20x -count="$count" ./exporter
run go test -run '^$' -bench '^(BenchmarkThousandAccounts|BenchmarkScrapeMemory)$' -benchtime=1x -count=1 -timeout 30m ./exporter
run go test -run '^$' -bench '^BenchmarkMemory$' -benchtime=1x -count=1 ./poller
run go test -run '^$' -bench '^BenchmarkBackfill$' -benchtime=1x -count=1 ./reading
run go test -count=1 -run '^TestRequestsPerPoll$' -v ./poller

awk '
# Benchmark lines: name, iterations, then value/unit pairs; keep the minimum.
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i + 1 <= NF; i += 2) {
		k = name SUBSEP $(i + 1)
		if (!(k in v) || $i + 0 < v[k]) v[k] = $i + 0
	}
}
/requests: max_concurrency=/ {
	line = $0
	sub(/.*requests: /, "", line)
	req[++nreq] = line
}
function get(name, unit) {
	if (!((name SUBSEP unit) in v)) { printf "missing: %s %s\n", name, unit > "/dev/stderr"; exit 1 }
	return v[name SUBSEP unit]
}
function row(what, ours, base, unit, bound) {
	printf "| %-44s | %14.4g | %14.4g | %-9s | %6.2fx | %-6s |\n", what, ours, base, unit, ours / base, bound
}
# A figure without a baseline.
function fig(what, ours, unit) {
	printf "| %-44s | %14.4g | %14s | %-9s | %7s | %-6s |\n", what, ours, "", unit, "", ""
}
END {
	print ""
	print "| figure                                       |           ours |  baseline/bnd | unit      |  ratio | target |"
	print "| -------------------------------------------- | -------------- | -------------- | --------- | ------ | ------ |"
	i = "BenchmarkIngest/"
	row("ingest: decode+count time per 100-event page", get(i "decode_and_count", "ns/op"), get(i "baseline=encoding_json", "ns/op"), "ns/op", "")
	row("ingest: decode only, time per page", get(i "decode", "ns/op"), get(i "baseline=encoding_json", "ns/op"), "ns/op", "")
	row("ingest: decode+count bytes per page", get(i "decode_and_count", "B/op"), get(i "baseline=encoding_json", "B/op"), "B/op", "")
	row("ingest: events per second per core", get(i "decode_and_count", "events/s"), get(i "baseline=encoding_json", "events/s"), "events/s", "")
	split("10000 100000 250000", sizes, " ")
	for (k = 1; k <= 3; k++) {
		n = sizes[k]
		s = "BenchmarkScrape/series=" n "/"
		row("scrape " n " user series: latency", get(s "collector", "ns/op"), get(s "baseline=countervec", "ns/op"), "ns/op", "<=1.2")
		row("scrape " n " user series: allocations", get(s "collector", "allocs/op"), get(s "baseline=countervec", "allocs/op"), "allocs/op", "<=1.2")
		row("scrape " n " user series: bytes", get(s "collector", "B/op"), get(s "baseline=countervec", "B/op"), "B/op", "<=1.2")
		row("  heap held for the series", get(s "collector", "heap-B"), get(s "baseline=countervec", "heap-B"), "bytes", "<=1.2")
		row("  same, with a state file", get(s "collector", "heap-B-statefile"), get(s "baseline=countervec", "heap-B"), "bytes", "<=1.2")
	}
	s = "BenchmarkScrapeDuringSlowPoll/"
	row("scrape while a poll waits 30s on the API", get(s "poll_waiting_30s", "ns/op"), get(s "baseline=api_idle", "ns/op"), "ns/op", "~1")
	b = "BenchmarkBackfill"
	row("backfill 100k events, 50ms API, 4 at once", get(b, "s/backfill"), get(b, "s-bound"), "s", "~1")
	row("  same, against one page at a time", get(b, "s/backfill"), get(b, "s-sequential"), "s", "~0.25")
	t = "BenchmarkThousandAccounts"
	row("1,000 accounts every 2s, state file: polls", get(t, "polls-median"), 20, "polls/40s", ">=0.75")
	row("  the account that polled least", get(t, "polls-min"), 20, "polls/40s", ">=0.75")
	row("  SIGTERM: Stop, final save included", get(t, "s-stop"), 30, "s", "<=1")
	fig("  state file", get(t, "state-B"), "bytes")
	fig("  one write of the state file", get(t, "s-write"), "s")
	r = "BenchmarkScrapeMemory"
	row("300 accounts: RSS after 10 scrapes vs 1", get(r, "rss-B@10"), get(r, "rss-B@1"), "bytes", "<=1.25")
	fig("  series", get(r, "series"), "series")
	fig("  live heap after the 10th scrape", get(r, "live-heap-B"), "bytes")
	fig("  /metrics size", get(r, "metrics-B"), "bytes")
	fig("  /metrics time", get(r, "s-scrape"), "s")
	m = "BenchmarkMemory"
	row("heap in use after 1M events vs after 100k", get(m, "heap-B@1M"), get(m, "heap-B@100k"), "bytes", "~1")
	print ""
	print "API calls per poll against the simulator (floor: max(1, ceil(events in window / 100)); the first poll adds OPTIONS and the 2 requests of reading.Learn):"
	print ""
	# The subtests run in parallel: group their lines, each in its order.
	for (k = 1; k <= nreq; k++) if (req[k] ~ /^max_concurrency=1 /) print "  " req[k]
	for (k = 1; k <= nreq; k++) if (req[k] !~ /^max_concurrency=1 /) print "  " req[k]
}
' "$out"
grep -q '^--- PASS: TestRequestsPerPoll' "$out" || { echo "TestRequestsPerPoll failed" >&2; exit 1; }
