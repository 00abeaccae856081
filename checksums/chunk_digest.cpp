// See chunk_digest.hpp.
#include "checksums/chunk_digest.hpp"

#include <fmt/format.h>

#include <charconv>

namespace pgblit::checksums {

std::string ChunkDigest::to_string() const {
  return fmt::format("{}:{:016x}:{:016x}", rows, row_hash_sum, key_hash_sum);
}

ChunkDigest ChunkDigest::parse(const std::string& text) {
  ChunkDigest d;
  auto first = text.find(':');
  auto second = text.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos) return d;
  std::from_chars(text.data(), text.data() + first, d.rows);
  std::from_chars(text.data() + first + 1, text.data() + second, d.row_hash_sum, 16);
  std::from_chars(text.data() + second + 1, text.data() + text.size(), d.key_hash_sum, 16);
  return d;
}

}  // namespace pgblit::checksums
