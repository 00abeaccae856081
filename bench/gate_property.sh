#!/usr/bin/env bash
# The dry run's gate against the copy over many seeded random cases: table pairs
# (tests/integration/gate_property_test.cpp: per table, the dry run's warning rows must equal
# the rows the copy rejects, and the rest must load) and linked schemas of 2-5 tables
# (gate_linked_property_test.cpp: the same per table and per kind of constraint, with
# mappings, filters, scopes, new_keys, appends, and --checks fast agreeing). Starts the test
# clusters on the build's ports, runs the test binary with CASES table pairs and SCHEMAS
# linked schemas from the seed base, and stops them.
#   bench/gate_property.sh [CASES] [SEED] [SCHEMAS]   (defaults 2000, the current time, CASES/4)
# A failure prints the failing schema's seed and DDL, and how to replay just that schema.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-2000}; seed=${2:-$(date +%s)}; schemas=${3:-$((cases / 4))}
port() { sed -n "s/^PGBLIT_TEST_$1_PORT:[A-Z]*=//p" build/CMakeCache.txt; }
dir=$(grep -o '/tmp/pgblit-test-clusters-[A-Za-z0-9]*' build/tests/CTestTestfile.cmake | head -1)  # ctest's own
cmake --build build --target integration_tests >/dev/null
# A run takes long: it tests copies of the binaries, so a rebuild meanwhile changes nothing.
bin=$(mktemp -d /tmp/pgblit-gate-property-XXXXXX)
cp build/bin/pgblit build/bin/integration_tests "$bin/"
PGBLIT_CLUSTER_FSYNC=off scripts/clusters.sh start "$dir" "$(port SOURCE)" "$(port TARGET)" >/dev/null
trap 'scripts/clusters.sh stop "$dir" >/dev/null; rm -rf "$bin"' EXIT
start=$(date +%s)
PGBLIT_PROPERTY_CASES=$cases PGBLIT_PROPERTY_SEED=$seed PGBLIT_LINKED_CASES=$schemas PGBLIT_LINKED_SEED=$seed \
  PGBLIT_TEST_BINARY="$bin/pgblit" "$bin/integration_tests" --gtest_filter='GatePropertyTest.*:GateLinkedPropertyTest.*' --gtest_brief=1
echo "gate property: $cases table pairs and $schemas linked schemas from seed $seed in $(( $(date +%s) - start )) s"
