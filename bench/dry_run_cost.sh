#!/usr/bin/env bash
# The dry run's own time against the copy it judges, in the same round: `pgblit plan` as
# shipped (its counts where statistics cannot be trusted), with --exact-counts (every table
# counted), with --checks fast, and with no estimate (--estimate-seconds 0: the checks alone, as
# shipped, with --exact-counts and with --checks fast, which is what the counts themselves cost);
# then the copy (verified, analyzed) into the same target, emptied first.
#   bench/dry_run_cost.sh ROUNDS SCHEMA      (SOURCE_DATABASE_URL/TARGET_DATABASE_URL: a pair
#                                             holding SCHEMA on both sides, e.g. the demo's "shop")
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; schema=${2:-shop}
PGBLIT=${PGBLIT:-build/bin/pgblit}
timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
empty_target() {
  psql "$TARGET_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS pgblit CASCADE" >/dev/null 2>&1
  for t in $(psql "$TARGET_DATABASE_URL" -Atc "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = '$schema'"); do
    psql "$TARGET_DATABASE_URL" -qc "TRUNCATE $t CASCADE" >/dev/null 2>&1
  done
  psql "$TARGET_DATABASE_URL" -qc CHECKPOINT
}
for r in $(seq "$rounds"); do
  empty_target
  plan=$(timed "$PGBLIT" plan -n "$schema")
  exact=$(timed "$PGBLIT" plan -n "$schema" --exact-counts)
  fast=$(timed "$PGBLIT" plan -n "$schema" --checks fast)
  checks=$(timed "$PGBLIT" plan -n "$schema" --estimate-seconds 0)
  checks_exact=$(timed "$PGBLIT" plan -n "$schema" --estimate-seconds 0 --exact-counts)
  checks_fast=$(timed "$PGBLIT" plan -n "$schema" --estimate-seconds 0 --checks fast)
  copy=$(timed "$PGBLIT" copy -n "$schema" --yes --progress off)
  ratio() { echo "$1 / $copy" | bc -l; }
  printf 'round=%s\tcopy=%.1f\tplan=%.1f (%.2f)\texact=%.1f (%.2f)\tfast=%.1f (%.2f)\tchecks_only=%.1f (%.2f)\tchecks_exact=%.1f (%.2f)\tchecks_fast=%.1f (%.2f)\n' \
    "$r" "$copy" "$plan" "$(ratio "$plan")" "$exact" "$(ratio "$exact")" "$fast" "$(ratio "$fast")" \
    "$checks" "$(ratio "$checks")" "$checks_exact" "$(ratio "$checks_exact")" "$checks_fast" "$(ratio "$checks_fast")"
done
