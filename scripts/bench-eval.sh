#!/usr/bin/env bash
# Times `nines eval` on a generated nginx access log against a mawk
# one-liner that only counts good requests, on the same file in the same
# run, and reports wall time and peak memory of both. Not part of CI: the
# 5,000,000-line default takes about a minute and ~600 MB of disk.
#
#   scripts/bench-eval.sh [LINES]
#   SPAN=365d scripts/bench-eval.sh 1440000   # the lines spread over a year
set -euo pipefail
cd "$(dirname "$0")/.."

lines=${1:-5000000}
dir=${BENCH_DIR:-bench}
mkdir -p "$dir"
log="$dir/access-$lines${SPAN:+-$SPAN}.log"

go build -o "$dir/nines" ./cmd/nines
go build -o "$dir/genlog" ./scripts/genlog
if [ ! -s "$log" ]; then
  echo "generating $lines lines into $log" >&2
  if [ -n "${SPAN:-}" ]; then
    "$dir/genlog" -format nginx -lines "$lines" -start 2026-11-24T00:00:00Z -span "$SPAN" -seed 1 > "$log"
  else
    "$dir/genlog" -format nginx -lines "$lines" -start 2026-11-24T00:00:00Z -rate "${RATE:-60}" -seed 1 > "$log"
  fi
fi
ls -l "$log" >&2
cat "$log" > /dev/null # warm the page cache for both contenders

measure() { # name, command...
  local name=$1; shift
  local out
  out=$( { /usr/bin/time -f '%e %M' "$@" > "$dir/$name.out"; } 2>&1 | tail -1)
  echo "$name $out"
}

runs=${RUNS:-3}
for i in $(seq "$runs"); do
  measure mawk mawk '{ if ($9 < 500 && $NF <= 0.005) g++ } END { print g/NR }' "$log"
  measure nines sh -c "'$dir/nines' eval --spec examples/checkout.yaml --events '$log' --json; test \$? -le 1"
done | awk '
  { t[$1] = (t[$1] == "" || $2 < t[$1]) ? $2 : t[$1]; m[$1] = ($3 > m[$1]) ? $3 : m[$1] }
  END {
    printf "best of '"$runs"' runs on '"$lines"' lines\n"
    printf "%-6s %8s s %10s KiB peak RSS\n", "mawk", t["mawk"], m["mawk"]
    printf "%-6s %8s s %10s KiB peak RSS\n", "nines", t["nines"], m["nines"]
    printf "nines/mawk wall-time ratio: %.2f (below 1 is faster)\n", t["nines"] / t["mawk"]
  }'
good_share() { # the JSON report's good events over all events
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=[w["events"] for w in d["windows"]]; print(round(sum(x["good"] for x in e)/sum(x["total"] for x in e), 6))' "$1"
}
echo "share of good requests: mawk $(cat "$dir/mawk.out"), nines $(good_share "$dir/nines.out")"
