#!/usr/bin/env bash
# Installs everything pgblit needs to build, test, demo and benchmark, from Debian packages.
# Run as root; idempotent (apt-get skips what is already installed).
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libpq-dev libtbb-dev libxxhash-dev libzstd-dev libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libgtest-dev libbenchmark-dev
  postgresql postgresql-client bc zstd time
  dpkg-dev file man-db   # the .deb (cpack, dpkg-shlibdeps) and its test (man -l)
  chromium bsdutils      # the HTML report is checked in headless Chromium; `script` gives a test a terminal
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
