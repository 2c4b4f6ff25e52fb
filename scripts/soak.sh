#!/usr/bin/env bash
# A 10-minute soak of nines serve: 50 clients (half events, half Prometheus
# remote write), spec reloads every 30 s and status reads, then a check
# that every acknowledged event and counter increase was stored exactly
# once, and the server's memory over the run (docs/performance.md, soak).
# Not part of CI.
#
#   scripts/soak.sh [flags of scripts/soak, e.g. -duration 2m]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SOAK_DIR:-$(mktemp -d /tmp/nines-soak.XXXXXX)}
go build -o "$dir/nines" ./cmd/nines
go build -o "$dir/soak" ./scripts/soak
exec "$dir/soak" -nines "$dir/nines" -dir "$dir" "$@"
