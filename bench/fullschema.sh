#!/usr/bin/env bash
# Loading into a target that already has its full schema (bench/migration-dataset.sql: primary
# keys, unique keys, foreign keys, an index on every foreign key), tools alternating, seconds:
#   pgblit        pgblit copy (indexes and constraints deferred, rebuilt in parallel)
#   pgblit-keep   pgblit copy --indexes keep (every row pays for index maintenance and FK checks)
#   post-data     pgblit copy into tables without indexes, then pg_restore -j of the post-data section
#   pgdump        pg_dump -Fd -j + pg_restore -j --data-only --disable-triggers into the full schema
#   quiet         pgblit with --progress off and the run folder elsewhere (the cost of progress, against:)
#   bar           pgblit with --progress bar (drawn 4 times a second) and its run folder
#   create        pgblit copy --create-schema into a target without the schema
#   dump-restore  pg_dump -Fd -j + pg_restore -j (schema and data) into a target without the schema
# Every pgblit run uses --verify off --no-analyze (the peers verify nothing); `pgblit-verified`
# adds the default verification. Prints one line per run; ratios are taken within a round.
#   bench/fullschema.sh ROUNDS TOOL...     (pair from ../shared/bench/pgpair.sh, dataset loaded)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}; shift
source bench/common.sh fullschema
pg_dump "$SRC" --schema-only -n app --section=post-data -Fc -f "$work/post.dump"
copy() { "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes "$@" >>"$work/tool.log" 2>&1; }
run() {
  case $1 in
  pgblit) reset "$work/full.sql"; copy --verify off --no-analyze;;
  quiet) reset "$work/full.sql"; copy --verify off --no-analyze --progress off --run-dir "$work/runs-quiet";;
  bar) reset "$work/full.sql"; copy --verify off --no-analyze --progress bar --run-dir "$work/runs-bar";;
  pgblit-verified) reset "$work/full.sql"; copy;;
  pgblit-keep) reset "$work/full.sql"; copy --verify off --no-analyze --indexes keep;;
  post-data) reset "$work/pre.sql"; copy --verify off --no-analyze && pg_restore -d "$TGT" -j "$JOBS" "$work/post.dump";;
  create) reset /dev/null; copy --verify off --no-analyze --create-schema;;
  dump-restore) reset /dev/null; rm -rf "$work/dump"
    pg_dump "$SRC" -Fd -j "$JOBS" -n app -f "$work/dump" && pg_restore -d "$TGT" -j "$JOBS" "$work/dump";;
  pgdump) reset "$work/full.sql"; rm -rf "$work/dump"
    pg_dump "$SRC" -Fd -j "$JOBS" --data-only -n app -f "$work/dump" && pg_restore -d "$TGT" -j "$JOBS" --data-only --disable-triggers "$work/dump";;
  esac
}
for r in $(seq "$rounds"); do
  for t in "$@"; do
    s=$(date +%s.%N); run "$t"; rc=$?; e=$(date +%s.%N)
    idx=$(psql "$TGT" -Atc "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app'")
    fks=$(psql "$TGT" -Atc "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'app'::regnamespace AND convalidated")
    printf '%s\tround=%s\trc=%s\tseconds=%.2f\tindexes=%s\tvalid_fks=%s\n' "$t" "$r" "$rc" "$(echo "$e - $s" | bc)" "$idx" "$fks"
  done
done
