// The digest of a set of rows: (row count, sum of row hashes mod 2^64, sum of key hashes
// mod 2^64). Sums make it independent of row order, so the source and the target may return
// rows in any order; and additive, so chunk digests add up to the table's. A duplicated row
// adds its hash twice and the count once more: duplicates are counted, never cancelled (as
// XOR would). Each row hash is XXH3-64 of the row's exact bytes on the COPY stream.
#pragma once

#include <cstdint>
#include <string>

namespace pgblit::checksums {

struct ChunkDigest {
  uint64_t rows = 0;
  uint64_t row_hash_sum = 0;
  uint64_t key_hash_sum = 0;

  ChunkDigest& operator+=(const ChunkDigest& other) {
    rows += other.rows;
    row_hash_sum += other.row_hash_sum;
    key_hash_sum += other.key_hash_sum;
    return *this;
  }
  bool operator==(const ChunkDigest&) const = default;

  // "rows:row_sum:key_sum", the sums in hex, e.g. "1000:9f0c...:31aa...".
  std::string to_string() const;
  // The inverse of to_string(); a malformed text gives the empty digest.
  static ChunkDigest parse(const std::string& text);
};

}  // namespace pgblit::checksums
