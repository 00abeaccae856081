#!/usr/bin/env bash
# Verification benchmark, on the clusters and dataset of bench/e2e.sh (run that first):
#   1. pgblit verify -j 2   against the whole-table text checksum pgcopydb uses,
#      SELECT count(1), sum(hashtext(t::text)::bigint) FROM ONLY t, run on source and target at
#      once, table after table;
#   2. pgblit copy --verify full against --verify off.
#   bench/verify.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; dir=/tmp/pgblit-bench; jobs=2
scripts/clusters.sh start "$dir" 5435 5436 >/dev/null
SRC=postgresql://postgres@127.0.0.1:5435/postgres
TGT=postgresql://postgres@127.0.0.1:5436/postgres
tables=$(psql "$SRC" -Atc "SELECT relname FROM pg_class WHERE relnamespace = 'bench'::regnamespace AND relkind = 'r'")
pgblit() { build/bin/pgblit "$@" --source "$SRC" --target "$TGT" -n bench --log-level warn; }
reset_target() {
  psql "$TGT" -qc "DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null 2>&1
  psql "$TGT" -q -f "$dir/pre-data.sql" >/dev/null
  psql "$TGT" -qc CHECKPOINT
}
hashtext_checksum() {
  for t in $tables; do
    q="SELECT count(1), sum(hashtext(t::text)::bigint) FROM ONLY bench.$t t"
    psql "$SRC" -Atc "$q" >/dev/null & psql "$TGT" -Atc "$q" >/dev/null & wait
  done
}
timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }

reset_target; pgblit copy -j "$jobs" --yes --verify off >/dev/null
printf 'round\thashtext_s\tverify_s\tverify/hashtext\tcopy_off_s\tcopy_full_s\tfull/off\n'
for r in $(seq "$rounds"); do
  t_hash=$(timed hashtext_checksum)
  t_verify=$(timed pgblit verify -j "$jobs")
  reset_target; t_off=$(timed pgblit copy -j "$jobs" --yes --no-analyze --verify off)
  reset_target; t_full=$(timed pgblit copy -j "$jobs" --yes --no-analyze --verify full)
  printf '%s\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.3f\n' "$r" "$t_hash" "$t_verify" "$(echo "$t_verify / $t_hash" | bc -l)" \
    "$t_off" "$t_full" "$(echo "$t_full / $t_off" | bc -l)"
done
