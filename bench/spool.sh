#!/usr/bin/env bash
# The spool's cost and size: `pgblit copy` with and without `--spool` (defaults otherwise:
# verified, into the full schema), alternating, and the spool's size against `pg_dump -Fd` of the
# same tables; `restore` of that spool against `pg_restore -j --data-only` into the same schema.
#   bench/spool.sh ROUNDS        (pair from ../shared/bench/pgpair.sh, bench/migration-dataset.sql loaded)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
SRC=${SOURCE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5433/postgres}
TGT=${TARGET_DATABASE_URL:-postgresql://postgres@127.0.0.1:5434/postgres}
JOBS=${JOBS:-2}
PGBLIT=${PGBLIT:-build/bin/pgblit}
work=${TMPDIR:-/tmp}/pgblit-spool-bench
mkdir -p "$work"
pg_dump "$SRC" --schema-only -n app > "$work/full.sql"
reset() {
  psql "$TGT" -qc "DROP SCHEMA IF EXISTS app CASCADE; DROP SCHEMA IF EXISTS pgblit CASCADE" >/dev/null 2>&1
  psql "$TGT" -q -f "$work/full.sql" >/dev/null 2>&1
  psql "$TGT" -qc CHECKPOINT
}
timed() { local s e; s=$(date +%s.%N); "$@" >>"$work/tool.log" 2>&1; rc=$?; e=$(date +%s.%N); echo "$e - $s" | bc; }
for r in $(seq "$rounds"); do
  reset; plain=$(timed "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes)
  reset; rm -rf "$work/spool"
  spooled=$(timed "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes --spool "$work/spool")
  reset; restore=$(timed "$PGBLIT" restore --spool "$work/spool" --target "$TGT" -j "$JOBS")
  rm -rf "$work/dump"; dump=$(timed pg_dump "$SRC" -Fd -j "$JOBS" -n app --data-only -f "$work/dump")
  reset; pgrestore=$(timed pg_restore -d "$TGT" -j "$JOBS" --data-only --disable-triggers "$work/dump")
  printf 'round=%s\tcopy=%.1f\tcopy_spool=%.1f\tratio=%.2f\tspool_bytes=%s\tpg_dump_bytes=%s\trestore=%.1f\tpg_restore=%.1f\tpg_dump=%.1f\n' \
    "$r" "$plain" "$spooled" "$(echo "$spooled / $plain" | bc -l)" "$(du -sb "$work/spool" | cut -f1)" \
    "$(du -sb "$work/dump" | cut -f1)" "$restore" "$pgrestore" "$dump"
done
