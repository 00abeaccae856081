#!/usr/bin/env bash
# The cost of a mapping: `pgblit copy` plain, with a mapping (an expression, a value map and a
# constant remap on the largest tables), and scoped to 10% of the organizations (a `where` on
# every table with organization_id), each into the tables without their indexes and keys (the
# dataset's tickets reference other organizations' rows, so a 10% cut cannot take its foreign
# keys back), with --verify off --no-analyze, alternating; seconds.
#   bench/mapping.sh ROUNDS     (pair from ../shared/bench/pgpair.sh, bench/migration-dataset.sql loaded)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
source bench/common.sh mapping-bench
cat > "$work/mapped.yaml" <<'YAML'
version: 1
tables:
  app.organizations:
    columns:
      id: {expr: "CASE WHEN id = 1 THEN 100001 ELSE id END"}
  app.support_tickets:
    columns:
      subject: {expr: "upper(subject)"}
      organization_id: {expr: "CASE WHEN organization_id = 1 THEN 100001 ELSE organization_id END"}
  app.customers:
    columns:
      email: {expr: "lower(email)"}
      name: {from: name, map: {"Customer 1": "First customer"}, else: keep}
      organization_id: {expr: "CASE WHEN organization_id = 1 THEN 100001 ELSE organization_id END"}
YAML
{
  echo "version: 1"; echo "tables:"
  for t in organizations users customers products orders inventory_items support_tickets warranties warranty_items; do
    col=organization_id; [ "$t" = organizations ] && col=id
    printf '  app.%s:\n    where: "%s %% 10 = 0"\n' "$t" "$col"
  done
} > "$work/scoped.yaml"
copy() { "$PGBLIT" copy --source "$SRC" --target "$TGT" -n app -j "$JOBS" --yes --verify off --no-analyze "$@"; }
for r in $(seq "$rounds"); do
  reset "$work/pre.sql"; plain=$(timed copy)
  reset "$work/pre.sql"; mapped=$(timed copy --mapping "$work/mapped.yaml")
  reset "$work/pre.sql"; scoped=$(timed copy --mapping "$work/scoped.yaml")
  printf 'round=%s\tplain=%.1f\tmapped=%.1f\tratio=%.2f\tscoped_10pct=%.1f\tratio=%.2f\n' "$r" "$plain" "$mapped" \
    "$(echo "$mapped / $plain" | bc -l)" "$scoped" "$(echo "$scoped / $plain" | bc -l)"
done
