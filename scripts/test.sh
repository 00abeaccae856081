#!/usr/bin/env bash
# Installs the dependencies, builds pgblit and its tests, and runs the whole suite through
# ctest: unit tests (no server) and integration tests against two throwaway clusters that a
# ctest fixture starts and stops. Run as root on Debian (or as a user who can run the
# scripts/install-deps.sh steps and initdb).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then scripts/install-deps.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2 "$@"
