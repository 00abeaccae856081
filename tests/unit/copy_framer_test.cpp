#include <gtest/gtest.h>

#include <string>

#include "checksums/copy_framer.hpp"
#include "core/error.hpp"

namespace pgblit::checksums {
namespace {

// Builds binary COPY streams by hand.
struct Stream {
  std::string bytes = std::string("PGCOPY\n\377\r\n\0", 11) + std::string(8, '\0');
  Stream& i16(int16_t v) {
    bytes += static_cast<char>((v >> 8) & 0xff);
    bytes += static_cast<char>(v & 0xff);
    return *this;
  }
  Stream& i32(int32_t v) {
    for (int s = 24; s >= 0; s -= 8) bytes += static_cast<char>((v >> s) & 0xff);
    return *this;
  }
  Stream& field(const std::string& value) { return i32(static_cast<int32_t>(value.size())), raw(value); }
  Stream& null() { return i32(-1); }
  Stream& raw(const std::string& value) {
    bytes += value;
    return *this;
  }
  Stream& trailer() { return i16(-1); }
};

ChunkDigest digest_in_pieces(const std::string& stream, std::vector<size_t> cuts, StreamFormat format = StreamFormat::Binary,
                             std::vector<int> keys = {0}) {
  RowDigester d(format, keys);
  size_t at = 0;
  cuts.push_back(stream.size());
  for (size_t cut : cuts) {
    d.consume(std::span<const char>(stream.data() + at, cut - at));
    at = cut;
  }
  d.finish();
  return d.digest();
}

Stream three_rows() {
  Stream s;
  s.i16(3).field("1").field("alice").null();
  s.i16(3).field("2").null().field(std::string("\0\xff", 2));
  s.i16(3).field("3").field("").field("x");
  return s.trailer(), s;
}

TEST(CopyFramer, counts_rows_and_hashes_nulls_and_empty_values_distinctly) {
  auto digest = digest_in_pieces(three_rows().bytes, {});
  EXPECT_EQ(digest.rows, 3u);
  Stream other;
  other.i16(3).field("1").field("alice").field("");  // NULL became an empty string
  other.i16(3).field("2").null().field(std::string("\0\xff", 2));
  other.i16(3).field("3").field("").field("x");
  other.trailer();
  auto changed = digest_in_pieces(other.bytes, {});
  EXPECT_EQ(changed.rows, 3u);
  EXPECT_NE(changed.row_hash_sum, digest.row_hash_sum);
  EXPECT_EQ(changed.key_hash_sum, digest.key_hash_sum);  // same keys, a changed row
}

TEST(CopyFramer, every_split_point_gives_the_same_digest) {
  std::string stream = three_rows().bytes;
  auto whole = digest_in_pieces(stream, {});
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(digest_in_pieces(stream, {cut}), whole) << "cut at " << cut;
  }
  for (size_t a = 0; a <= stream.size(); a += 3) {
    for (size_t b = a; b <= stream.size(); b += 5) EXPECT_EQ(digest_in_pieces(stream, {a, b}), whole);
  }
  std::vector<size_t> byte_by_byte;
  for (size_t i = 1; i < stream.size(); ++i) byte_by_byte.push_back(i);
  EXPECT_EQ(digest_in_pieces(stream, byte_by_byte), whole);
}

TEST(CopyFramer, row_order_does_not_matter_but_duplicates_count) {
  Stream ab, ba, aab;
  ab.i16(1).field("a").i16(1).field("b").trailer();
  ba.i16(1).field("b").i16(1).field("a").trailer();
  aab.i16(1).field("a").i16(1).field("a").i16(1).field("b").trailer();
  EXPECT_EQ(digest_in_pieces(ab.bytes, {}), digest_in_pieces(ba.bytes, {}));
  auto dup = digest_in_pieces(aab.bytes, {});
  EXPECT_EQ(dup.rows, 3u);
  EXPECT_NE(dup, digest_in_pieces(ab.bytes, {}));
}

TEST(CopyFramer, zero_column_rows_and_empty_tables) {
  Stream zero;
  zero.i16(0).i16(0).trailer();
  EXPECT_EQ(digest_in_pieces(zero.bytes, {}, StreamFormat::Binary, {}).rows, 2u);
  Stream empty;
  empty.trailer();
  EXPECT_EQ(digest_in_pieces(empty.bytes, {}).rows, 0u);
}

TEST(CopyFramer, header_extension_is_skipped) {
  Stream s;
  s.bytes = std::string("PGCOPY\n\377\r\n\0", 11);
  s.i32(0).i32(3).raw("ext").i16(1).field("v").trailer();
  EXPECT_EQ(digest_in_pieces(s.bytes, {12, 20}).rows, 1u);
}

TEST(CopyFramer, text_rows_split_on_newlines_and_keys_on_tabs) {
  std::string text = "1\talice\t\\N\n2\tbob\tx\n";
  auto d = digest_in_pieces(text, {5}, StreamFormat::Text);
  EXPECT_EQ(d.rows, 2u);
  EXPECT_EQ(d, digest_in_pieces(text, {1, 17}, StreamFormat::Text));
  EXPECT_EQ(d.key_hash_sum, digest_in_pieces("1\tzzz\n2\tyyy\n", {}, StreamFormat::Text).key_hash_sum);
}

void expect_malformed(const std::string& stream, const std::string& why) {
  for (size_t cut : {size_t{0}, stream.size() / 2}) {
    try {
      digest_in_pieces(stream, {cut});
      ADD_FAILURE() << "accepted a stream with " << why;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("malformed COPY stream"), std::string::npos) << e.what();
    }
  }
}

TEST(CopyFramer, malformed_streams_are_rejected_cleanly) {
  expect_malformed("NOTCOPY\n\377\r\n\0xxxxxxxxxxxxx", "a bad signature");
  std::string truncated = three_rows().bytes;
  expect_malformed(truncated.substr(0, truncated.size() - 5), "a truncated row");
  expect_malformed(truncated.substr(0, truncated.size() - 2), "no trailer");
  expect_malformed(Stream().i16(-2).bytes, "a negative field count");
  expect_malformed(Stream().i16(1).i32(-5).trailer().bytes, "a negative field length");
  expect_malformed(Stream().i16(1).i32(1000).raw("short").trailer().bytes, "a length past the end");
  expect_malformed(Stream().trailer().i16(0).bytes, "bytes after the trailer");
  expect_malformed(Stream().i16(1).field("x").trailer().bytes.substr(0, 11), "only a signature");
}

TEST(CopyFramer, a_field_count_other_than_expected_is_rejected) {
  RowDigester d(StreamFormat::Binary, {}, 2);
  std::string s = Stream().i16(3).field("a").field("b").field("c").trailer().bytes;
  EXPECT_THROW(d.consume(std::span<const char>(s.data(), s.size())), Error);
}

}  // namespace
}  // namespace pgblit::checksums
