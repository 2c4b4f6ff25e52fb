#!/usr/bin/env bash
# nines serve holding many 30-day SLOs with a day of data each: start
# time, memory, CPU a minute, GET /api/v1/slos and a reload that changes
# every objective (docs/performance.md, "10,000 SLOs on one node").
# Not part of CI.
#
#   scripts/scale.sh [-slos 10000] [-minutes 2]
#   NINES_BASE=<git ref> scripts/scale.sh -slos 1000   # the nines of <ref>
#
# SCALE_DIR keeps specs and filled stores between runs (one store per
# number of SLOs, filled once), so two binaries are measured on the same
# data.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SCALE_DIR:-$(mktemp -d /tmp/nines-scale.XXXXXX)}
mkdir -p "$dir"
bin="$dir/nines"
if [ -n "${NINES_BASE:-}" ]; then
	src="$dir/src-base"
	rm -rf "$src" && mkdir -p "$src"
	git archive "$NINES_BASE" | tar -x -C "$src"
	(cd "$src" && go build -o "$dir/nines-base" ./cmd/nines)
	bin="$dir/nines-base"
else
	go build -o "$bin" ./cmd/nines
fi
go build -o "$dir/scale" ./scripts/scale
exec "$dir/scale" -nines "$bin" -dir "$dir" "$@"
