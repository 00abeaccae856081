#!/usr/bin/env bash
# The demo: installs the dependencies, builds pgblit, starts two throwaway clusters (source
# :5433, target :5434), loads a sample shop dataset into the source, creates the same schema
# on the target with its keys and indexes but no rows (as migrations would), runs the dry run
# (`pgblit plan`: its estimate and verdict), then `pgblit copy`
# (progress, deferred indexes rebuilt after the load, every row verified), shows `pgblit status`,
# compares row counts, and says where the run's report is.
# Stop the clusters afterwards with: scripts/clusters.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target pgblit
scripts/clusters.sh start /tmp/pgblit-clusters 5433 5434
export SOURCE_DATABASE_URL=postgresql://postgres@127.0.0.1:5433/postgres
export TARGET_DATABASE_URL=postgresql://postgres@127.0.0.1:5434/postgres
echo "== loading the sample dataset into the source"
psql "$SOURCE_DATABASE_URL" -q -v rows=200000 -f scripts/sample-dataset.sql 2>&1 | grep -v NOTICE || true
psql "$TARGET_DATABASE_URL" -q -c "DROP SCHEMA IF EXISTS shop CASCADE" 2>/dev/null
pg_dump "$SOURCE_DATABASE_URL" --schema-only -n shop | psql "$TARGET_DATABASE_URL" -q >/dev/null
echo "== pgblit plan -n shop   (the dry run: findings on the real rows, a measured estimate, go or no-go)"
build/bin/pgblit plan -n shop --estimate-seconds 2 | sed -n '/^Estimate:/,$p'
echo "== pgblit copy -n shop   (the target already has the schema: keys, foreign keys, indexes)"
build/bin/pgblit copy -n shop --yes 2>&1 | tee /tmp/pgblit-demo-copy.log
echo "== pgblit status"
build/bin/pgblit status
echo "== row counts, source vs target"
count_sql="SELECT relname, n FROM (VALUES ('customers', (SELECT count(*) FROM shop.customers)),
  ('products', (SELECT count(*) FROM shop.products)), ('orders', (SELECT count(*) FROM shop.orders)),
  ('order_lines', (SELECT count(*) FROM shop.order_lines)), ('page_views', (SELECT count(*) FROM shop.page_views))) v(relname, n)"
diff <(psql "$SOURCE_DATABASE_URL" -Atc "$count_sql") <(psql "$TARGET_DATABASE_URL" -Atc "$count_sql") \
  && psql "$TARGET_DATABASE_URL" -Atc "$count_sql" | sed 's/|/: /; s/^/  /' && echo "== counts match"
report=$(sed -n 's/.* report: //p' /tmp/pgblit-demo-copy.log | tail -1)
echo "== the run's folder: $(dirname "$report")/ (pgblit.log, events.jsonl, report.json)"
echo "== its report: $report"
