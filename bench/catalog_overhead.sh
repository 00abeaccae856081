#!/usr/bin/env bash
# The run catalog's share of a copy (issue target: under 3%), on the bench clusters and
# dataset of bench/e2e.sh. Times, in the same run: a pgblit copy of schema bench, and the
# catalog statements such a copy issues (create the run with its chunk rows; per chunk a claim,
# a done mark and a target digest; reading the chunk records once per round and at the end),
# replayed against the target with the same chunk count. Prints both and the ratio.
#   bench/catalog_overhead.sh [CHUNK_SIZE]     (default 128MB)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-128MB}; dir=/tmp/pgblit-bench
scripts/clusters.sh start "$dir" 5435 5436 >/dev/null
SRC=postgresql://postgres@127.0.0.1:5435/postgres
TGT=postgresql://postgres@127.0.0.1:5436/postgres
chunks=$(build/bin/pgblit plan --source "$SRC" --target "$TGT" -n bench --chunk-size "$size" --json --log-level warn |
         python3 -c 'import json,sys; print(len(json.load(sys.stdin)["chunks"]))')
psql "$TGT" -qc "DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null 2>&1; psql "$TGT" -q -f "$dir/pre-data.sql" >/dev/null
s=$(date +%s.%N)
build/bin/pgblit copy --source "$SRC" --target "$TGT" -n bench --chunk-size "$size" -j 2 --yes --no-analyze --log-level warn
e=$(date +%s.%N); copy_s=$(echo "$e - $s" | bc)
replay=$(mktemp)
{
  echo "CREATE SCHEMA IF NOT EXISTS catalog_replay; CREATE TABLE IF NOT EXISTS catalog_replay.chunks (run_id bigint, chunk int,
        status text, rows bigint, bytes bigint, source_digest text, target_digest text, format text, worker text,
        attempts int DEFAULT 0, finished_at timestamptz, PRIMARY KEY (run_id, chunk));"
  echo "INSERT INTO catalog_replay.chunks (run_id, chunk, status) SELECT 1, g, 'pending' FROM generate_series(0, $chunks - 1) g;"
  for c in $(seq 0 $((chunks - 1))); do
    echo "BEGIN; SELECT status FROM catalog_replay.chunks WHERE run_id = 1 AND chunk = $c AND status <> 'done' FOR UPDATE SKIP LOCKED;"
    echo "UPDATE catalog_replay.chunks SET status = 'done', rows = 1, bytes = 1, source_digest = 'x', format = 'binary', worker = 'w', attempts = attempts + 1, finished_at = now() WHERE run_id = 1 AND chunk = $c; COMMIT;"
    echo "UPDATE catalog_replay.chunks SET target_digest = 'y' WHERE run_id = 1 AND chunk = $c;"
  done
  echo "SELECT count(*) FROM catalog_replay.chunks WHERE run_id = 1; SELECT count(*) FROM catalog_replay.chunks WHERE run_id = 1;"
  echo "DROP SCHEMA catalog_replay CASCADE;"
} > "$replay"
s=$(date +%s.%N); psql "$TGT" -q -f "$replay" >/dev/null; e=$(date +%s.%N); catalog_s=$(echo "$e - $s" | bc)
rm -f "$replay"
printf 'chunks %s: copy %.2f s, catalog statements %.3f s, share %.2f%%\n' "$chunks" "$copy_s" "$catalog_s" \
  "$(echo "100 * $catalog_s / $copy_s" | bc -l)"
