#!/usr/bin/env bash
# End-to-end copy benchmark: pgblit copy against a per-table `psql \copy` binary pipe (two
# tables at a time), in the same run, same jobs, fresh target tables before every run.
#
#   bench/e2e.sh [ROUNDS] [SCALE]        (defaults 3 rounds, scale 1 = about 1.1 GB)
#
# Starts its own clusters on ports 5435/5436 under /tmp/pgblit-bench (kept between runs, so
# the dataset is built once), builds pgblit if needed, and prints per round the seconds of
# each tool, pgblit's CPU seconds (user+sys) per GB copied, and the ratio pgblit / psql pipe.
# Tools alternate order every round so machine drift hits both alike; compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; scale=${2:-1}; jobs=2
dir=/tmp/pgblit-bench
[ -x build/bin/pgblit ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2 --target pgblit; }
scripts/clusters.sh start "$dir" 5435 5436 >/dev/null
SRC=postgresql://postgres@127.0.0.1:5435/postgres
TGT=postgresql://postgres@127.0.0.1:5436/postgres
if [ "$(psql "$SRC" -Atc "SELECT count(*) FROM pg_namespace WHERE nspname = 'bench'")" = 0 ] ||
   [ "$(cat "$dir/scale" 2>/dev/null)" != "$scale" ]; then
  echo "building the dataset (scale $scale)..."
  psql "$SRC" -q -v scale="$scale" -f bench/dataset.sql
  echo "$scale" > "$dir/scale"
fi
tables=$(psql "$SRC" -Atc "SELECT relname FROM pg_class WHERE relnamespace = 'bench'::regnamespace AND relkind = 'r' ORDER BY pg_relation_size(oid) DESC")
bytes=$(psql "$SRC" -Atc "SELECT sum(pg_table_size(oid)) FROM pg_class WHERE relnamespace = 'bench'::regnamespace AND relkind = 'r'")
pg_dump "$SRC" --schema-only --section=pre-data -n bench > "$dir/pre-data.sql"

reset_target() {
  psql "$TGT" -qc "DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null 2>&1
  psql "$TGT" -q -f "$dir/pre-data.sql" >/dev/null
  psql "$TGT" -qc CHECKPOINT
}
psql_pipe() {
  printf '%s\n' $tables | xargs -P "$jobs" -I{} sh -c \
    "psql '$SRC' -qc '\\copy bench.{} to stdout with (format binary)' | psql '$TGT' -qc '\\copy bench.{} from stdin with (format binary)'"
}
pgblit_copy() {
  /usr/bin/time -f "%U %S" -o "$dir/cpu" build/bin/pgblit copy --source "$SRC" --target "$TGT" -n bench -j "$jobs" \
    --yes --no-analyze > "$dir/pgblit.log" 2>&1
}
timed() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
rows() { psql "$TGT" -Atc "SELECT (SELECT count(*) FROM bench.ledger) + (SELECT count(*) FROM bench.accounts)"; }

want=$(psql "$SRC" -Atc "SELECT (SELECT count(*) FROM bench.ledger) + (SELECT count(*) FROM bench.accounts)")
echo "dataset: $(echo "$bytes / 1000000000" | bc -l | xargs printf '%.2f') GB in $(echo $tables | wc -w) tables; jobs $jobs"
printf 'round\tpsql_pipe_s\tpgblit_s\tratio\tpgblit_cpu_s_per_GB\n'
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="pipe pgblit"; else order="pgblit pipe"; fi
  for tool in $order; do
    reset_target
    if [ "$tool" = pipe ]; then t_pipe=$(timed psql_pipe); else t_pgblit=$(timed pgblit_copy); fi
    [ "$(rows)" = "$want" ] || { echo "$tool copied the wrong number of rows" >&2; exit 1; }
  done
  cpu=$(awk '{print $1 + $2}' "$dir/cpu")
  printf '%s\t%.2f\t%.2f\t%.3f\t%.3f\n' "$r" "$t_pipe" "$t_pgblit" "$(echo "$t_pgblit / $t_pipe" | bc -l)" \
    "$(echo "$cpu / ($bytes / 1000000000)" | bc -l)"
done
echo "stop the clusters with: scripts/clusters.sh stop $dir"
