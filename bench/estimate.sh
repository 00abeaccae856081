#!/usr/bin/env bash
# How close the dry run's duration estimate comes to the copy it estimates: for each target
# shape, `pgblit plan` (its estimate), then the real `pgblit copy` with the same options
# (verification and ANALYZE on, the defaults), timed. Prints estimate, actual and their ratio,
# and the dry run's own time (`--checks fast`) as a share of the copy's.
#   full    the target has the full schema (indexes and constraints deferred and rebuilt)
#   empty   the target has the tables only (pre-data): nothing to rebuild
#   keep    the full schema with --indexes keep
#   bench/estimate.sh ROUNDS SHAPE...   (pair from ../shared/bench/pgpair.sh, bench/migration-dataset.sql loaded)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; shift
source bench/common.sh estimate
for r in $(seq "$rounds"); do
  for shape in "$@"; do
    extra=()
    case $shape in
      full) reset "$work/full.sql";;
      empty) reset "$work/pre.sql";;
      keep) reset "$work/full.sql"; extra=(--indexes keep);;
    esac
    ps=$(date +%s.%N)
    "$PGBLIT" plan --source "$SRC" --target "$TGT" -n app -j "$JOBS" --checks fast "${extra[@]}" --json > "$work/plan.json" 2>>"$work/tool.log"
    plan_seconds=$(echo "$(date +%s.%N) - $ps" | bc)
    est=$(jq '.dry_run.estimate.seconds' "$work/plan.json")
    phases=$(jq -c '.dry_run.estimate.phases' "$work/plan.json")
    psql "$TGT" -qc CHECKPOINT
    s=$(date +%s.%N)
    "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes "${extra[@]}" >>"$work/tool.log" 2>&1; rc=$?
    e=$(date +%s.%N)
    actual=$(echo "$e - $s" | bc)
    printf '%s\tround=%s\trc=%s\testimate=%.1f\tactual=%.1f\tratio=%.2f\tplan=%.1f\tplan_share=%.2f\t%s\n' "$shape" "$r" \
      "$rc" "$est" "$actual" "$(echo "$est / $actual" | bc -l)" "$plan_seconds" "$(echo "$plan_seconds / $actual" | bc -l)" "$phases"
  done
done
