#!/usr/bin/env bash
# End-to-end copy benchmark, in the same run, same jobs, fresh target tables before every run:
#   pipe    a per-table `psql \copy` binary pipe, two tables at a time
#   limit   the target alone loading pre-made binary COPY files server-side, two at a time
#           (no source, no client: the speed at which the target ingests)
#   pgblit  pgblit copy -j 2
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
files=$dir/files
mkdir -p "$files"; [ "$(id -u)" = 0 ] && chown postgres "$files"
for t in $tables; do
  [ -f "$files/$t.bin" ] || psql "$SRC" -qc "COPY bench.$t TO '$files/$t.bin' (FORMAT binary)"
done
limit() {
  printf '%s\n' $tables | xargs -P "$jobs" -I{} psql "$TGT" -qc "COPY bench.{} FROM '$files/{}.bin' (FORMAT binary)"
}
pgblit_copy() {
  /usr/bin/time -f "%U %S" -o "$dir/cpu" build/bin/pgblit copy --source "$SRC" --target "$TGT" -n bench -j "$jobs" \
    --yes --no-analyze --verify off > "$dir/pgblit.log" 2>&1   # the peers verify nothing either
}
timed() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
rows() { psql "$TGT" -Atc "SELECT (SELECT count(*) FROM bench.ledger) + (SELECT count(*) FROM bench.accounts)"; }

want=$(psql "$SRC" -Atc "SELECT (SELECT count(*) FROM bench.ledger) + (SELECT count(*) FROM bench.accounts)")
echo "dataset: $(echo "$bytes / 1000000000" | bc -l | xargs printf '%.2f') GB in $(echo $tables | wc -w) tables; jobs $jobs"
printf 'round\tpipe_s\tlimit_s\tpgblit_s\tpgblit/pipe\tpgblit/limit\tpgblit_cpu_s_per_GB\n'
for r in $(seq "$rounds"); do
  case $((r % 3)) in 1) order="pipe limit pgblit";; 2) order="pgblit pipe limit";; 0) order="limit pgblit pipe";; esac
  for tool in $order; do
    reset_target
    case $tool in
      pipe) t_pipe=$(timed psql_pipe);;
      limit) t_limit=$(timed limit);;
      pgblit) t_pgblit=$(timed pgblit_copy);;
    esac
    [ "$(rows)" = "$want" ] || { echo "$tool copied the wrong number of rows" >&2; exit 1; }
  done
  cpu=$(awk '{print $1 + $2}' "$dir/cpu")
  printf '%s\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f\t%.3f\n' "$r" "$t_pipe" "$t_limit" "$t_pgblit" \
    "$(echo "$t_pgblit / $t_pipe" | bc -l)" "$(echo "$t_pgblit / $t_limit" | bc -l)" \
    "$(echo "$cpu / ($bytes / 1000000000)" | bc -l)"
done
echo "stop the clusters with: scripts/clusters.sh stop $dir"
