#!/usr/bin/env bash
# The downtime of a live move against the same move done offline: one table of ROWS rows on a
# pair of throwaway clusters with wal_level = logical (scripts/clusters.sh, ports 56061/56062 or
# FOLLOW_BENCH_PORTS="SOURCE TARGET"),
# a steady writer (pgbench, RATE transactions a second of an insert, an update and a delete)
# on the source from before the copy to the cutover.
#   offline:  pgblit copy (writer stopped), its whole time
#   live:     pgblit copy --follow with the writer on, wait until caught up, pgblit cutover:
#             the downtime is the cutover's fence -> target ready (cutover.json)
#   bench/follow.sh [ROUNDS] [ROWS] [RATE]        CHECK=changes|counts|full (the cutover's --check)
# Also printed: the cutover's catch-up and check seconds, the changed rows it compared, and
# what one count(*) of the table takes (the cost --check counts pays on each side).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; rows=${2:-2000000}; rate=${3:-200}; check=${CHECK:-changes}
read -r sport tport <<<"${FOLLOW_BENCH_PORTS:-56061 56062}"
PGBLIT=${PGBLIT:-build/bin/pgblit}
dir=${TMPDIR:-/tmp}/pgblit-follow-bench
scripts/clusters.sh start "$dir/clusters" "$sport" "$tport" >/dev/null
SRC=postgresql://postgres@127.0.0.1:$sport/followbench
TGT=postgresql://postgres@127.0.0.1:$tport/followbench
admin() { psql "postgresql://postgres@127.0.0.1:$1/postgres" -qc "$2" >/dev/null; }
schema="CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, amount numeric(12,2), note text,
        created timestamptz NOT NULL DEFAULT now())"
fresh_target() {
  psql "$TGT" -qtc "SELECT subname FROM pg_subscription" 2>/dev/null | while read -r s; do
    if [ -n "$s" ]; then
      psql "$TGT" -qc "ALTER SUBSCRIPTION $s DISABLE" -c "ALTER SUBSCRIPTION $s SET (slot_name = NONE)" -c "DROP SUBSCRIPTION $s"
    fi
  done || true
  admin "$tport" "DROP DATABASE IF EXISTS followbench WITH (FORCE)"; admin "$tport" "CREATE DATABASE followbench"
  psql "$TGT" -qc "$schema"
}
psql "postgresql://postgres@127.0.0.1:$sport/postgres" -qtAc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
admin "$sport" "DROP DATABASE IF EXISTS followbench WITH (FORCE)"; admin "$sport" "CREATE DATABASE followbench"
psql "$SRC" -qc "$schema"
psql "$SRC" -qc "INSERT INTO orders (customer, amount, note) SELECT g % 10000, g % 997, md5(g::text)
                 FROM generate_series(1, $rows) g"
psql "$SRC" -qc "VACUUM ANALYZE orders"
cat >"$dir/writes.sql" <<'SQL'
\set id random(1, 2000000)
INSERT INTO orders (customer, amount, note) VALUES (:id % 10000, 1, 'live');
UPDATE orders SET amount = amount + 1 WHERE id = :id;
DELETE FROM orders WHERE id = :id + 1;
SQL
for r in $(seq "$rounds"); do
  fresh_target
  s=$(date +%s.%N); "$PGBLIT" copy --source "$SRC" --target "$TGT" -j 2 --yes --run-dir "$dir/runs" >"$dir/offline.log" 2>&1
  offline=$(echo "$(date +%s.%N) - $s" | bc)
  fresh_target
  pgbench -n -c 1 -T 100000 -R "$rate" -f "$dir/writes.sql" "$SRC" >"$dir/pgbench.log" 2>&1 &
  writer=$!
  s=$(date +%s.%N); "$PGBLIT" copy --follow --source "$SRC" --target "$TGT" -j 2 --yes --run-dir "$dir/runs" >"$dir/live.log" 2>&1
  live_copy=$(echo "$(date +%s.%N) - $s" | bc)
  run=$(psql "$TGT" -qtAc "SELECT max(id) FROM pgblit.runs")
  # caught up with the writer still on: the lag a DBA would see before cutting over
  until [ "$(psql "$SRC" -qtAc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) < 1048576 FROM pg_replication_slots WHERE slot_name LIKE 'pgblit_${run}_%' AND slot_name NOT LIKE '%_keys'")" = t ]; do sleep 0.2; done
  "$PGBLIT" cutover "$run" --source "$SRC" --target "$TGT" --run-dir "$dir/runs" --check "$check" >"$dir/cutover.log" 2>&1 || true
  kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true
  read -r downtime catch_up check_s compared < <(python3 -c "import json;c=json.load(open('$dir/runs/$run/cutover.json'));print(c['downtime_seconds'],c['catch_up_seconds'],c['check_seconds'],c.get('rows_compared',0))")
  s=$(date +%s.%N); psql "$TGT" -qtAc "SELECT count(*) FROM orders" >/dev/null; count_s=$(echo "$(date +%s.%N) - $s" | bc)
  "$PGBLIT" unfence --source "$SRC" --target "$TGT" >/dev/null
  printf 'round=%s\trows=%s\twrites_per_s=%s\tcheck=%s\toffline_copy=%.2f\tlive_copy=%.2f\tdowntime=%.2f\tdowntime_share=%.3f\tcatch_up=%.2f\tcheck_s=%.2f\trows_compared=%s\tone_count_s=%.2f\n' \
    "$r" "$rows" "$rate" "$check" "$offline" "$live_copy" "$downtime" "$(echo "$downtime / $offline" | bc -l)" \
    "$catch_up" "$check_s" "$compared" "$count_s"
done
[ "${KEEP_CLUSTERS:-0}" = 1 ] || { scripts/clusters.sh stop "$dir/clusters"; rm -rf "$dir"; }
