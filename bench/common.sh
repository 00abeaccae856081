# Sourced by the benchmark scripts: the pair of servers (../shared/bench/pgpair.sh), jobs, the
# binary, a work folder, resetting the target's app schema from a dump, and timing a command.
SRC=${SOURCE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5433/postgres}
TGT=${TARGET_DATABASE_URL:-postgresql://postgres@127.0.0.1:5434/postgres}
JOBS=${JOBS:-2}
PGBLIT=${PGBLIT:-build/bin/pgblit}
work=${TMPDIR:-/tmp}/pgblit-$1
mkdir -p "$work"
pg_dump "$SRC" --schema-only -n app > "$work/full.sql"
pg_dump "$SRC" --schema-only -n app --section=pre-data > "$work/pre.sql"
# reset SCHEMA_SQL: the target's app schema as in that file, pgblit's catalog gone, checkpointed.
reset() {
  psql "$TGT" -qc "DROP SCHEMA IF EXISTS app CASCADE; DROP SCHEMA IF EXISTS pgblit CASCADE" >/dev/null 2>&1
  psql "$TGT" -q -f "$1" >/dev/null 2>&1
  psql "$TGT" -qc CHECKPOINT
}
# timed COMMAND...: its seconds (its output goes to the work folder's tool.log).
timed() { local s e; s=$(date +%s.%N); "$@" >>"$work/tool.log" 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
