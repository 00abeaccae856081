#!/usr/bin/env bash
# Planning cost: times `pgblit plan` of a schema of 10,000 small tables (issue target: < 10 s).
#   bench/plan_many_tables.sh [TABLES]      (default 10000; uses the bench clusters, database many_tables)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}; dir=/tmp/pgblit-bench
[ -x build/bin/pgblit ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j2 --target pgblit; }
scripts/clusters.sh start "$dir" 5435 5436 >/dev/null
for port in 5435 5436; do
  url=postgresql://postgres@127.0.0.1:$port/postgres
  if [ "$(psql "$url" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'many_tables'")" = 0 ]; then
    psql "$url" -qc "CREATE DATABASE many_tables"
  fi
  url=postgresql://postgres@127.0.0.1:$port/many_tables
  have=$(psql "$url" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = 'many'")
  if [ "$have" != "$n" ]; then
    echo "creating $n tables on :$port..."
    psql "$url" -qc "DROP SCHEMA IF EXISTS many CASCADE; CREATE SCHEMA many"
    for start in $(seq 1 100 "$n"); do
      psql "$url" -qc "DO \$\$ BEGIN FOR i IN $start..LEAST($start + 99, $n) LOOP
        EXECUTE format('CREATE TABLE many.t%s (id bigint PRIMARY KEY, a text, b numeric, c timestamptz)', i);
        END LOOP; END \$\$"
    done
    [ "$port" = 5435 ] && psql "$url" -qc "INSERT INTO many.t1 SELECT g, 'x', g, now() FROM generate_series(1, 1000) g; ANALYZE"
  fi
done
s=$(date +%s.%N)
build/bin/pgblit plan --source postgresql://postgres@127.0.0.1:5435/many_tables \
  --target postgresql://postgres@127.0.0.1:5436/many_tables -n many --log-level warn | tail -1
e=$(date +%s.%N)
printf 'planning %s tables took %.2f s\n' "$n" "$(echo "$e - $s" | bc)"
