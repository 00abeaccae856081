// See copy_framer.hpp.
#include "checksums/copy_framer.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/error.hpp"

namespace pgblit::checksums {
namespace {

constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // and a NUL: 11 bytes
constexpr size_t kSignatureSize = 11;
constexpr size_t kHeaderFixedSize = kSignatureSize + 4 + 4;

int32_t be32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(__builtin_bswap32(v));
}

int16_t be16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return static_cast<int16_t>(__builtin_bswap16(v));
}

[[noreturn]] void malformed(const std::string& why) {
  throw Error(ErrorKind::Runtime, "malformed COPY stream: " + why, "", "this is a bug or a damaged file; please report it");
}

}  // namespace

CopyFramer::CopyFramer(StreamFormat format, int expected_fields)
    : format_(format), expected_fields_(expected_fields), header_done_(format == StreamFormat::Text) {}

size_t CopyFramer::read_header(const char* data, size_t size) {
  if (size < kHeaderFixedSize) {
    if (std::memcmp(data, kSignature, std::min(size, kSignatureSize)) != 0) malformed("bad signature");
    return 0;
  }
  if (std::memcmp(data, kSignature, kSignatureSize) != 0) malformed("bad signature");
  int32_t flags = be32(data + kSignatureSize);
  if (flags & (1 << 16)) malformed("rows with OIDs are not supported");
  int32_t extension = be32(data + kSignatureSize + 4);
  if (extension < 0) malformed("negative header extension length");
  if (size - kHeaderFixedSize < static_cast<size_t>(extension)) return 0;
  header_done_ = true;
  return kHeaderFixedSize + static_cast<size_t>(extension);
}

size_t CopyFramer::frame_binary(const char* data, size_t size) {
  row_framed_ = false;
  if (trailer_seen_) malformed("bytes after the trailer");
  if (!header_done_) return read_header(data, size);
  if (size < 2) return 0;
  int16_t count = be16(data);
  if (count == -1) {
    trailer_seen_ = true;
    return 2;
  }
  if (count < 0) malformed("negative field count");
  if (expected_fields_ >= 0 && count != expected_fields_) {
    malformed("a row has " + std::to_string(count) + " fields, expected " + std::to_string(expected_fields_));
  }
  fields_.clear();
  size_t pos = 2;
  for (int16_t i = 0; i < count; ++i) {
    if (size - pos < 4) return 0;
    int32_t length = be32(data + pos);
    if (length < -1) malformed("negative field length");
    size_t start = pos;
    pos += 4;
    if (length > 0) {
      if (size - pos < static_cast<size_t>(length)) return 0;
      pos += static_cast<size_t>(length);
    }
    fields_.emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(pos - start));
  }
  row_framed_ = true;
  return pos;
}

size_t CopyFramer::frame_text(const char* data, size_t size) {
  const char* newline = static_cast<const char*>(std::memchr(data, '\n', size));
  row_framed_ = newline != nullptr;
  if (!newline) return 0;
  size_t length = static_cast<size_t>(newline - data);
  fields_.clear();
  size_t start = 0;
  for (size_t i = 0; i <= length; ++i) {
    if (i == length || data[i] == '\t') {
      fields_.emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(i - start));
      start = i + 1;
    }
  }
  return length + 1;
}

void CopyFramer::consume(std::span<const char> bytes, const std::function<void(const RowView&)>& on_row) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  auto emit = [&](const char* row, size_t length) {
    if (row_framed_) on_row(RowView{std::string_view(row, format_ == StreamFormat::Text ? length - 1 : length), fields_});
  };
  // A row begun in an earlier buffer: grow the carry (doubling, so this stays linear) until
  // the row is complete, then hand back what belongs to the rows after it.
  size_t carried = carry_.size();
  while (!carry_.empty() && n > 0) {
    size_t take = std::min(n, std::max<size_t>(carry_.size(), 4096));
    carry_.insert(carry_.end(), p, p + take);
    size_t length = frame(carry_.data(), carry_.size());
    if (length == 0) {
      p += take;
      n -= take;
      carried = carry_.size();
      continue;
    }
    emit(carry_.data(), length);
    size_t used = length - carried;
    p += used;
    n -= used;
    carry_.clear();
  }
  while (n > 0) {
    size_t length = frame(p, n);
    if (length == 0) {
      carry_.assign(p, p + n);
      return;
    }
    emit(p, length);
    p += length;
    n -= length;
  }
}

void CopyFramer::finish() const {
  if (!carry_.empty()) malformed("the stream ended inside a row");
  if (format_ == StreamFormat::Binary && !trailer_seen_) malformed("the stream ended before its trailer");
}

RowDigester::RowDigester(StreamFormat format, std::vector<int> key_fields, int expected_fields)
    : framer_(format, expected_fields), key_fields_(std::move(key_fields)) {
  on_row_ = [this](const RowView& row) { add(row); };
}

void RowDigester::add(const RowView& row) {
  ++digest_.rows;
  digest_.row_hash_sum += row_hash(row.bytes);
  digest_.key_hash_sum += key_hash(row, key_fields_);
}

void RowDigester::consume(std::span<const char> bytes) { framer_.consume(bytes, on_row_); }

uint64_t RowDigester::row_hash(std::string_view row) { return XXH3_64bits(row.data(), row.size()); }

uint64_t RowDigester::key_hash(const RowView& row, const std::vector<int>& key_fields) {
  uint64_t hash = 0;
  for (int f : key_fields) {
    if (f < 0 || static_cast<size_t>(f) >= row.fields.size()) continue;
    auto [offset, size] = row.fields[static_cast<size_t>(f)];
    hash = XXH3_64bits_withSeed(row.bytes.data() + offset, size, hash);
  }
  return hash;
}

}  // namespace pgblit::checksums
