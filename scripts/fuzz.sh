#!/usr/bin/env bash
# Fuzzes the COPY framer with libFuzzer under AddressSanitizer and UBSan for a bounded time.
#   scripts/fuzz.sh [SECONDS]      (default 60)
# Exits non-zero on any crash or sanitizer report; the crashing input is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if [ "$(id -u)" = 0 ]; then
  scripts/install-deps.sh
  command -v clang++ >/dev/null || { apt-get update -qq && apt-get install -y -qq clang libclang-rt-dev >/dev/null; }
fi
mkdir -p build-fuzz/corpus
flags="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I."
clang++ $flags tests/fuzz/copy_framer_fuzz.cpp checksums/copy_framer.cpp checksums/chunk_digest.cpp \
  $(pkg-config --cflags --libs libxxhash) -lfmt -o build-fuzz/copy_framer_fuzz
# Seeds: a real binary stream header with a row, and a text row.
printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\001\0\0\0\001x\377\377' | sed '1s/^/\x00\x05/' > build-fuzz/corpus/binary-seed
printf '\001\003a\tb\tc\n1\t\\N\t2\n' > build-fuzz/corpus/text-seed
cd build-fuzz && ./copy_framer_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 corpus
