// See chunk_digest.hpp.
#include "checksums/chunk_digest.hpp"

#include <fmt/format.h>

namespace pgblit::checksums {

std::string ChunkDigest::to_string() const {
  return fmt::format("{}:{:016x}:{:016x}", rows, row_hash_sum, key_hash_sum);
}

}  // namespace pgblit::checksums
