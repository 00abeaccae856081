// Framing a COPY stream into rows as its bytes arrive, and digesting each row.
//
// Binary format (PostgreSQL's COPY BINARY): an 11-byte signature, an int32 of flags and an
// int32 header-extension length (with that many bytes); then per row an int16 field count
// and per field an int32 length (-1 for NULL) and that many bytes; a field count of -1 is
// the trailer, after which nothing may follow. All integers are big-endian.
// Text format: one row per line, fields separated by tabs (a data tab or newline is always
// escaped, so the raw characters only ever delimit).
//
// Buffers may split the stream anywhere. A row that lies within one buffer (the usual case)
// is hashed where it lies; only a row split across buffers is first gathered into a carry
// buffer. Malformed input (bad signature, negative counts or lengths, a truncated stream,
// bytes after the trailer) throws pgblit::Error and never reads out of bounds.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "checksums/chunk_digest.hpp"

namespace pgblit::checksums {

enum class StreamFormat { Binary, Text };

// One framed row: its bytes (binary: from the field count on; text: the line without its
// newline) and the byte ranges of its fields within them (binary: with the length prefix).
struct RowView {
  std::string_view bytes;
  const std::vector<std::pair<uint32_t, uint32_t>>& fields;  // (offset, size) in `bytes`
};

class CopyFramer {
 public:
  // `expected_fields`: the field count every row must have, or -1 to accept any.
  CopyFramer(StreamFormat format, int expected_fields = -1);

  // Feeds the next bytes of the stream; `on_row` is called for every row completed.
  void consume(std::span<const char> bytes, const std::function<void(const RowView&)>& on_row);
  // The stream has ended: throws if it ended inside a row (or, binary, before the trailer).
  void finish() const;

 private:
  // Frames what starts at data[0..size): returns its length, or 0 if more bytes are needed.
  // Sets row_framed_ when that was a row (not the binary header or trailer).
  size_t frame_binary(const char* data, size_t size);
  size_t frame_text(const char* data, size_t size);
  size_t frame(const char* data, size_t size) {
    return format_ == StreamFormat::Binary ? frame_binary(data, size) : frame_text(data, size);
  }
  size_t read_header(const char* data, size_t size);

  StreamFormat format_;
  int expected_fields_;
  bool header_done_ = false;
  bool trailer_seen_ = false;
  bool row_framed_ = false;
  std::vector<char> carry_;  // the start of a row that continues in the next buffer
  std::vector<std::pair<uint32_t, uint32_t>> fields_;
};

// Frames a stream and folds every row into a ChunkDigest. `key_fields` are the positions of
// the key's columns among the row's fields; their bytes make the key hash.
class RowDigester {
 public:
  RowDigester(StreamFormat format, std::vector<int> key_fields, int expected_fields = -1);
  // Not copyable or movable: on_row_ calls back into this very object.
  RowDigester(const RowDigester&) = delete;
  RowDigester& operator=(const RowDigester&) = delete;
  void consume(std::span<const char> bytes);
  // Folds one row framed elsewhere into the digest.
  void add(const RowView& row);
  void finish() const { framer_.finish(); }
  const ChunkDigest& digest() const { return digest_; }

  // The hashes of one row, as the digest uses them.
  static uint64_t row_hash(std::string_view row);
  static uint64_t key_hash(const RowView& row, const std::vector<int>& key_fields);

 private:
  CopyFramer framer_;
  std::vector<int> key_fields_;
  ChunkDigest digest_;
  std::function<void(const RowView&)> on_row_;
};

}  // namespace pgblit::checksums
