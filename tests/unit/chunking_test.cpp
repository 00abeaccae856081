#include <gtest/gtest.h>

#include "plan/chunking.hpp"

namespace pgblit::plan {
namespace {

TableKey key_of(std::vector<std::string> columns, std::vector<std::string> types, bool nullable = false) {
  TableKey k;
  k.columns = std::move(columns);
  k.types = std::move(types);
  k.nullable = nullable;
  return k;
}

TEST(Chunking, chunk_count_rounds_up_and_is_at_least_one) {
  EXPECT_EQ(chunk_count(0, 100), 1);
  EXPECT_EQ(chunk_count(100, 100), 1);
  EXPECT_EQ(chunk_count(101, 100), 2);
}

TEST(Chunking, single_column_ranges_are_half_open_with_typed_literals) {
  auto k = key_of({"id"}, {"bigint"});
  EXPECT_EQ(key_range_predicate(k, {}, {"10"}), "\"id\" < '10'::bigint");
  EXPECT_EQ(key_range_predicate(k, {"10"}, {"20"}), "\"id\" >= '10'::bigint AND \"id\" < '20'::bigint");
  EXPECT_EQ(key_range_predicate(k, {"20"}, {}), "\"id\" >= '20'::bigint");
  EXPECT_EQ(key_range_predicate(k, {}, {}), "true");
}

TEST(Chunking, composite_keys_compare_as_rows_and_quote_values) {
  auto k = key_of({"Tenant", "name"}, {"integer", "text"});
  EXPECT_EQ(key_range_predicate(k, {"3", "O'Brien"}, {}), "(\"Tenant\", \"name\") >= ('3'::integer, 'O''Brien'::text)");
  EXPECT_EQ(null_key_predicate(k), "(\"Tenant\" IS NULL OR \"name\" IS NULL)");
}

TEST(Chunking, ctid_ranges_cover_pages_without_gaps) {
  EXPECT_EQ(ctid_range_predicate(-1, 100), "ctid < '(100,0)'::tid");
  EXPECT_EQ(ctid_range_predicate(100, 200), "ctid >= '(100,0)'::tid AND ctid < '(200,0)'::tid");
  EXPECT_EQ(ctid_range_predicate(200, -1), "ctid >= '(200,0)'::tid");
}

TEST(Chunking, histogram_boundaries_are_evenly_spaced_quantiles) {
  std::vector<std::string> bounds;
  for (int i = 0; i <= 100; ++i) bounds.push_back(std::to_string(i * i));  // skewed values, equal-depth buckets
  EXPECT_EQ(histogram_boundaries(bounds, 4), (std::vector<std::string>{"625", "2500", "5625"}));
  EXPECT_TRUE(histogram_boundaries(bounds, 1).empty());
}

}  // namespace
}  // namespace pgblit::plan

#include "plan/plan.hpp"

namespace pgblit::plan {
namespace {

TEST(Plan, round_trips_through_json_unchanged) {
  Plan plan;
  TableCopy t;
  t.source = "\"s\".\"a\"";
  t.target = "\"s\".\"a\"";
  t.columns = {"id", "v"};
  t.format = CopyFormat::Text;
  t.key = {"id"};
  t.key_types = {"bigint"};
  t.key_fields = {0};
  t.depends_on = {1};
  t.verify_by_chunk = true;
  t.chunking = "sample";
  plan.tables = {t, t};
  plan.chunks = {Chunk{0, "\"id\" < '5'::bigint", 10, {}, {"5"}, false}, Chunk{1, "", 3, {}, {}, true}};
  plan.schemas = {"s"};
  EXPECT_EQ(to_json(plan_from_json(to_json(plan))), to_json(plan));
}

}  // namespace
}  // namespace pgblit::plan
