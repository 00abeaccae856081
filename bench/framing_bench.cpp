// Framing + hashing speed of the COPY stream digester on one core (Google Benchmark).
//   build/bin/framing_bench
// Rows are shaped like the end-to-end dataset's (8 fields, about 100 bytes) and arrive in
// 1 MiB blocks, as from the COPY pump; also rows of 1 kB, and the text format.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "checksums/copy_framer.hpp"

namespace {

using pgblit::checksums::RowDigester;
using pgblit::checksums::StreamFormat;

void put32(std::string& s, int32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

std::string binary_stream(size_t bytes, size_t field_size) {
  std::string s("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
  std::mt19937 random(42);
  std::string value(field_size, 'x');
  while (s.size() < bytes) {
    s += '\0';
    s += '\x08';  // 8 fields
    for (int f = 0; f < 8; ++f) {
      if (f == 3 && random() % 5 == 0) {
        put32(s, -1);
        continue;
      }
      value[0] = static_cast<char>(random());
      put32(s, static_cast<int32_t>(value.size()));
      s += value;
    }
  }
  s += "\xff\xff";
  return s;
}

std::string text_stream(size_t bytes) {
  std::string s;
  for (int i = 0; s.size() < bytes; ++i) s += std::to_string(i) + "\tsome text value\t12.50\t2024-01-01 00:00:00+00\t\\N\n";
  return s;
}

void digest_blocks(benchmark::State& state, const std::string& stream, StreamFormat format) {
  constexpr size_t kBlock = 1 << 20;
  for (auto _ : state) {
    RowDigester digester(format, {0});
    for (size_t at = 0; at < stream.size(); at += kBlock) {
      digester.consume(std::span<const char>(stream.data() + at, std::min(kBlock, stream.size() - at)));
    }
    digester.finish();
    benchmark::DoNotOptimize(digester.digest());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}

void BM_BinaryRows100B(benchmark::State& state) {
  static const std::string stream = binary_stream(64 << 20, 8);
  digest_blocks(state, stream, StreamFormat::Binary);
}
void BM_BinaryRows1kB(benchmark::State& state) {
  static const std::string stream = binary_stream(64 << 20, 120);
  digest_blocks(state, stream, StreamFormat::Binary);
}
void BM_TextRows(benchmark::State& state) {
  static const std::string stream = text_stream(64 << 20);
  digest_blocks(state, stream, StreamFormat::Text);
}

BENCHMARK(BM_BinaryRows100B)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinaryRows1kB)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TextRows)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
