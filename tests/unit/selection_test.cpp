#include <gtest/gtest.h>

#include "plan/selection.hpp"

namespace pgblit::plan {
namespace {

Relation table(Oid oid, std::string schema, std::string name, char kind = 'r', std::vector<Oid> ancestors = {}) {
  Relation r;
  r.oid = oid;
  r.schema = std::move(schema);
  r.name = std::move(name);
  r.kind = kind;
  r.is_partition = !ancestors.empty();
  r.ancestors = std::move(ancestors);
  return r;
}

std::vector<std::string> names(const std::vector<const Relation*>& rels) {
  std::vector<std::string> out;
  for (const auto* r : rels) out.push_back(r->schema + "." + r->name);
  return out;
}

const std::vector<Relation> kCatalog = {
    table(1, "public", "orders"),        table(2, "public", "order_lines"), table(3, "sales", "Big Table"),
    table(4, "sales", "events", 'p'),    table(5, "sales", "events_2024", 'r', {4}),
    table(6, "sales", "events_2025", 'r', {4}), table(7, "audit", "log"),
};

TEST(NamePattern, wildcards_case_folding_and_quotes) {
  EXPECT_TRUE(NamePattern("order*", true).matches("public", "order_lines"));
  EXPECT_TRUE(NamePattern("ORDERS", true).matches("public", "orders"));
  EXPECT_FALSE(NamePattern("\"ORDERS\"", true).matches("public", "orders"));
  EXPECT_TRUE(NamePattern("sales.\"Big Table\"", true).matches("sales", "Big Table"));
  EXPECT_TRUE(NamePattern("ord?rs", true).matches("x", "orders"));
  EXPECT_FALSE(NamePattern("orders", true).matches("x", "orders_old"));
  EXPECT_TRUE(NamePattern("\"a.b\"", true).matches("s", "a.b"));
  EXPECT_THROW(NamePattern("a.b.c", true), Error);
  EXPECT_THROW(NamePattern("a.b", false), Error);
}

TEST(Selection, no_flags_select_every_table_holding_rows) {
  EXPECT_EQ(names(select_tables(kCatalog, {})),
            (std::vector<std::string>{"public.orders", "public.order_lines", "sales.Big Table", "sales.events_2024",
                                      "sales.events_2025", "audit.log"}));
}

TEST(Selection, partitioned_table_brings_its_partitions_and_exclusion_removes_one) {
  Selection s;
  s.tables = {"sales.events"};
  s.excluded = {"events_2025"};
  EXPECT_EQ(names(select_tables(kCatalog, s)), (std::vector<std::string>{"sales.events_2024"}));
}

TEST(Selection, schema_flag_and_excluding_a_partitioned_parent) {
  Selection s;
  s.schemas = {"sal*"};
  s.excluded = {"sales.events"};
  EXPECT_EQ(names(select_tables(kCatalog, s)), (std::vector<std::string>{"sales.Big Table"}));
}

TEST(Selection, a_pattern_matching_nothing_is_a_usage_error) {
  Selection s;
  s.tables = {"orders", "nope"};
  try {
    select_tables(kCatalog, s);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos);
  }
}

TEST(Selection, excluding_everything_is_an_error) {
  Selection s;
  s.excluded = {"*"};
  EXPECT_THROW(select_tables(kCatalog, s), Error);
}

}  // namespace
}  // namespace pgblit::plan
