// The key slot's parser on pgoutput messages built by hand (protocol 1, big-endian): which keys
// an insert, an update (old key and new), a delete and a truncate name, and where a table must
// be compared whole.
#include <gtest/gtest.h>

#include "source/changed_keys.hpp"

namespace pgblit::source {
namespace {

struct Message {
  std::string bytes;
  Message& byte(char c) { bytes.push_back(c); return *this; }
  Message& int_of(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Message& str(const std::string& s) { bytes += s; bytes.push_back('\0'); return *this; }
  // A tuple of text values; "" is NULL.
  Message& tuple(const std::vector<std::string>& values) {
    int_of(values.size(), 2);
    for (const auto& v : values) {
      if (v.empty()) { byte('n'); continue; }
      byte('t').int_of(v.size(), 4);
      bytes += v;
    }
    return *this;
  }
};

// Relation 16384 "public"."t" (id key, v), identity `identity`.
std::string relation(char identity) {
  return Message().byte('R').int_of(16384, 4).str("public").str("t").byte(identity).int_of(2, 2)
      .byte(1).str("id").int_of(20, 4).int_of(0xffffffff, 4)
      .byte(0).str("v").int_of(25, 4).int_of(0xffffffff, 4).bytes;
}

PgoutputKeys parser() {
  return PgoutputKeys([](uint32_t relid) { return relid == 16384 ? std::string("\"public\".\"t\"") : std::string(); });
}

TEST(PgoutputKeys, InsertsUpdatesAndDeletesNameTheirKeys) {
  auto p = parser();
  p.add(relation('d'));
  p.add(Message().byte('I').int_of(16384, 4).byte('N').tuple({"1", "a"}).bytes);
  p.add(Message().byte('U').int_of(16384, 4).byte('K').tuple({"2", ""}).byte('N').tuple({"3", "b"}).bytes);
  p.add(Message().byte('U').int_of(16384, 4).byte('N').tuple({"4", "c"}).bytes);
  p.add(Message().byte('D').int_of(16384, 4).byte('K').tuple({"5", ""}).bytes);
  EXPECT_EQ(p.add(Message().byte('C').byte(0).int_of(100, 8).int_of(0x1234, 8).int_of(0, 8).bytes), 0x1234u);
  auto keys = p.take();
  EXPECT_EQ(keys.changes, 4);
  EXPECT_TRUE(keys.whole.empty());
  std::set<std::string> ids;
  for (const auto& k : keys.keys["\"public\".\"t\""]) ids.insert(k["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"1", "2", "3", "4", "5"}));
}

TEST(PgoutputKeys, TruncateAndReplicaIdentityFullCompareTheTableWhole) {
  auto full = parser();
  full.add(relation('f'));
  full.add(Message().byte('D').int_of(16384, 4).byte('O').tuple({"5", "x"}).bytes);
  EXPECT_EQ(full.take().whole, (std::set<std::string>{"\"public\".\"t\""}));
  auto truncated = parser();
  truncated.add(Message().byte('T').int_of(1, 4).byte(0).int_of(16384, 4).bytes);
  EXPECT_EQ(truncated.take().whole, (std::set<std::string>{"\"public\".\"t\""}));
}

TEST(PgoutputKeys, AChangeBeforeItsRelationIsAnError) {
  auto p = parser();
  EXPECT_THROW(p.add(Message().byte('I').int_of(16384, 4).byte('N').tuple({"1", "a"}).bytes), Error);
}

}  // namespace
}  // namespace pgblit::source
