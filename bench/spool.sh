#!/usr/bin/env bash
# The spool's cost and size: `pgblit copy` with and without `--spool` (defaults otherwise:
# verified, into the full schema), alternating, and the spool's size against `pg_dump -Fd` of the
# same tables; `restore` of that spool against `pg_restore -j --data-only` into the same schema;
# `pgblit backup` (with its schema dump) against `pg_dump -Fd -j` of the same schema.
#   bench/spool.sh ROUNDS        (pair from ../shared/bench/pgpair.sh, bench/migration-dataset.sql loaded)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
source bench/common.sh spool-bench
for r in $(seq "$rounds"); do
  reset "$work/full.sql"; plain=$(timed "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes)
  reset "$work/full.sql"; rm -rf "$work/spool"
  spooled=$(timed "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes --spool "$work/spool")
  reset "$work/full.sql"; restore=$(timed "$PGBLIT" restore --spool "$work/spool" --target "$TGT" -j "$JOBS")
  rm -rf "$work/dump"; dump=$(timed pg_dump "$SRC" -Fd -j "$JOBS" -n app --data-only -f "$work/dump")
  reset "$work/full.sql"; pgrestore=$(timed pg_restore -d "$TGT" -j "$JOBS" --data-only --disable-triggers "$work/dump")
  rm -rf "$work/backup"; backup=$(timed "$PGBLIT" backup --source "$SRC" -n app -j "$JOBS" --spool "$work/backup")
  rm -rf "$work/fulldump"; fulldump=$(timed pg_dump "$SRC" -Fd -j "$JOBS" -n app -f "$work/fulldump")
  printf 'backup=%.1f\tpg_dump_full=%.1f\tratio=%.2f\n' "$backup" "$fulldump" "$(echo "$backup / $fulldump" | bc -l)"
  printf 'round=%s\tcopy=%.1f\tcopy_spool=%.1f\tratio=%.2f\tspool_bytes=%s\tpg_dump_bytes=%s\trestore=%.1f\tpg_restore=%.1f\tpg_dump=%.1f\n' \
    "$r" "$plain" "$spooled" "$(echo "$spooled / $plain" | bc -l)" "$(du -sb "$work/spool" | cut -f1)" \
    "$(du -sb "$work/dump" | cut -f1)" "$restore" "$pgrestore" "$dump"
done
