#!/usr/bin/env bash
# The downtime of a live move against the same move done offline, on a pair of throwaway
# clusters with wal_level = logical (scripts/clusters.sh, ports 56061/56062 or
# FOLLOW_BENCH_PORTS="SOURCE TARGET"), a steady writer (pgbench -R RATE) on the source from
# before the copy to the cutover.
#   offline:  pgblit copy (writer stopped), its whole time
#   live:     pgblit copy --follow with the writer on, wait until caught up, pgblit cutover:
#             the downtime is the cutover's fence -> target ready (cutover.json)
#   bench/follow.sh [ROUNDS] [ROWS] [RATE]        CHECK=changes|counts|full (the cutover's --check)
# DATASET=orders (default): one table of ROWS rows; each write transaction an insert, an update
# and a delete at random keys.
# DATASET=crm: the reference dataset (../shared/bench/crm-dataset.sql, SCALE=1: 1k organizations,
# 2M customers, 1M tickets, 2M events, ~1 GB; ROWS is ignored), schema crm. events has no key:
# it is given REPLICA IDENTITY FULL, as the dry run asks. Each write transaction updates a
# customer, opens a ticket, closes another, deletes a customer; EVENTS=1 also appends an event
# (a keyless table's change makes the cutover compare that table whole).
# Also printed: the cutover's catch-up and check seconds, the changed rows it compared, what one
# count(*) of the largest table takes (the cost --check counts pays on each side), the load average,
# and the write rate pgbench achieved (one client: each commit waits for its WAL flush unless
# WRITER_PGOPTIONS="-c synchronous_commit=off").
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; rows=${2:-2000000}; rate=${3:-200}; check=${CHECK:-changes}; dataset=${DATASET:-orders}
read -r sport tport <<<"${FOLLOW_BENCH_PORTS:-56061 56062}"
PGBLIT=${PGBLIT:-build/bin/pgblit}
dir=${TMPDIR:-/tmp}/pgblit-follow-bench-$sport
mkdir -p "$dir"
scripts/clusters.sh start "$dir/clusters" "$sport" "$tport" >/dev/null
SRC=postgresql://postgres@127.0.0.1:$sport/followbench
TGT=postgresql://postgres@127.0.0.1:$tport/followbench
admin() { psql "postgresql://postgres@127.0.0.1:$1/postgres" -qc "$2" >/dev/null; }
if [ "$dataset" = crm ]; then
  select=(-n crm); largest=crm.customers
  target_schema() { pg_dump "$SRC" --schema-only -n crm | psql "$TGT" -q >/dev/null; }
else
  select=(); largest=orders
  schema="CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, amount numeric(12,2), note text,
          created timestamptz NOT NULL DEFAULT now())"
  target_schema() { psql "$TGT" -qc "$schema"; }
fi
fresh_target() {
  psql "$TGT" -qtc "SELECT subname FROM pg_subscription" 2>/dev/null | while read -r s; do
    if [ -n "$s" ]; then
      psql "$TGT" -qc "ALTER SUBSCRIPTION $s DISABLE" -c "ALTER SUBSCRIPTION $s SET (slot_name = NONE)" -c "DROP SUBSCRIPTION $s"
    fi
  done || true
  admin "$tport" "DROP DATABASE IF EXISTS followbench WITH (FORCE)"; admin "$tport" "CREATE DATABASE followbench"
  target_schema
}
psql "postgresql://postgres@127.0.0.1:$sport/postgres" -qtAc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
admin "$sport" "DROP DATABASE IF EXISTS followbench WITH (FORCE)"; admin "$sport" "CREATE DATABASE followbench"
if [ "$dataset" = crm ]; then
  psql "$SRC" -q -v scale="${SCALE:-1}" -f "${CRM_DATASET:-../shared/bench/crm-dataset.sql}" >/dev/null
  psql "$SRC" -qc "ALTER TABLE crm.events REPLICA IDENTITY FULL"
  rows=$(psql "$SRC" -qtAc "SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname = 'crm'")
  cat >"$dir/writes.sql" <<'SQL'
\set c random(1, 2000000)
\set o random(1, 1000)
UPDATE crm.customers SET balance = balance + 1, profile = profile || '{"live": true}' WHERE id = :c;
INSERT INTO crm.tickets (id, organization_id, customer_id, status, priority, subject)
  VALUES (gen_random_uuid(), :o, :c, 'open', 1, 'live ' || :c);
UPDATE crm.tickets SET status = 'closed', resolved_at = now() WHERE id = md5((:c % 1000000 + 1)::text)::uuid;
DELETE FROM crm.customers WHERE id = :c + 1;
SQL
  if [ "${EVENTS:-0}" = 1 ]; then echo "INSERT INTO crm.events VALUES (now(), 'live', '\\x00', :o);" >>"$dir/writes.sql"; fi
else
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
fi
writer=
trap '[ -z "$writer" ] || kill "$writer" 2>/dev/null' EXIT
for r in $(seq "$rounds"); do
  fresh_target
  s=$(date +%s.%N); "$PGBLIT" copy "${select[@]}" --source "$SRC" --target "$TGT" -j 2 --yes --run-dir "$dir/runs" >"$dir/offline.log" 2>&1
  offline=$(echo "$(date +%s.%N) - $s" | bc)
  fresh_target
  PGOPTIONS=${WRITER_PGOPTIONS:-} pgbench -n -c 1 -T 100000 -R "$rate" -f "$dir/writes.sql" "$SRC" >"$dir/pgbench.log" 2>&1 &
  writer=$!
  s=$(date +%s.%N); "$PGBLIT" copy --follow "${select[@]}" --source "$SRC" --target "$TGT" -j 2 --yes --run-dir "$dir/runs" >"$dir/live.log" 2>&1
  live_copy=$(echo "$(date +%s.%N) - $s" | bc)
  run=$(psql "$TGT" -qtAc "SELECT max(id) FROM pgblit.runs")
  # caught up with the writer still on: the lag a DBA would see before cutting over
  until [ "$(psql "$SRC" -qtAc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) < 1048576 FROM pg_replication_slots WHERE slot_name LIKE 'pgblit_${run}_%' AND slot_name NOT LIKE '%_keys'")" = t ]; do sleep 0.2; done
  "$PGBLIT" cutover "$run" --source "$SRC" --target "$TGT" --run-dir "$dir/runs" --check "$check" >"$dir/cutover.log" 2>&1 || true
  kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true
  read -r downtime catch_up check_s compared < <(python3 -c "import json;c=json.load(open('$dir/runs/$run/cutover.json'));print(c['downtime_seconds'],c['catch_up_seconds'],c['check_seconds'],c.get('rows_compared',0))")
  s=$(date +%s.%N); psql "$TGT" -qtAc "SELECT count(*) FROM $largest" >/dev/null; count_s=$(echo "$(date +%s.%N) - $s" | bc)
  "$PGBLIT" unfence --source "$SRC" --target "$TGT" >/dev/null
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  achieved=$(grep -oP 'tps = \K[0-9.]+' "$dir/pgbench.log" | head -1 || true)  # the rate the machine allowed
  printf 'dataset=%s\tround=%s\trows=%s\twrites_per_s=%s\twrites_done_per_s=%s\tcheck=%s\toffline_copy=%.2f\tlive_copy=%.2f\tdowntime=%.2f\tdowntime_share=%.3f\tcatch_up=%.2f\tcheck_s=%.2f\trows_compared=%s\tone_count_s=%.2f\tload=%s\n' \
    "$dataset" "$r" "$rows" "$rate" "${achieved:-?}" "$check" "$offline" "$live_copy" "$downtime" "$(echo "$downtime / $offline" | bc -l)" \
    "$catch_up" "$check_s" "$compared" "$count_s" "$load"
done
[ "${KEEP_CLUSTERS:-0}" = 1 ] || { scripts/clusters.sh stop "$dir/clusters"; rm -rf "$dir"; }
