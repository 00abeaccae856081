// libFuzzer target for the COPY framer: any bytes, split at any point, in either format,
// must either frame or throw pgblit::Error — never crash, hang or read out of bounds
// (built with AddressSanitizer and UndefinedBehaviorSanitizer by scripts/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <span>

#include "checksums/copy_framer.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  auto format = data[0] & 1 ? pgblit::checksums::StreamFormat::Text : pgblit::checksums::StreamFormat::Binary;
  size_t cut = size > 2 ? data[1] % (size - 1) : 0;
  const char* bytes = reinterpret_cast<const char*>(data + 2);
  size_t n = size - 2;
  cut = std::min(cut, n);
  try {
    pgblit::checksums::RowDigester digester(format, {0, 2});
    digester.consume(std::span<const char>(bytes, cut));
    digester.consume(std::span<const char>(bytes + cut, n - cut));
    digester.finish();
  } catch (const pgblit::Error&) {
  }
  return 0;
}
