// The ledger's one comparison rule, without a server: which target tables are compared chunk
// by chunk, whole (source digests summed), on the copied rows only, or not at all, and what
// the verdict names.
#include <gtest/gtest.h>

#include "plan/plan.hpp"
#include "verify/ledger.hpp"

namespace pgblit::verify {
namespace {

using checksums::ChunkDigest;
using plan::CopyFormat;

plan::TableCopy table(const std::string& source, const std::string& target, bool by_chunk) {
  plan::TableCopy t;
  t.source = source;
  t.target = target;
  t.columns = {"id", "v"};
  t.key = {"id"};
  t.key_fields = {0};
  t.verify_by_chunk = by_chunk;
  return t;
}

// Two partitions into one target table (whole), and a table verified chunk by chunk.
plan::Plan sample_plan() {
  plan::Plan plan;
  plan.tables = {table("\"s\".\"p1\"", "\"s\".\"p\"", false), table("\"s\".\"p2\"", "\"s\".\"p\"", false),
                 table("\"s\".\"big\"", "\"s\".\"big\"", true)};
  plan.chunks = {{0}, {1}, {2, "\"id\" < 10"}, {2, "\"id\" >= 10"}};
  return plan;
}

TEST(LedgerRuleTest, whole_tables_sum_their_sources_and_chunks_compare_one_by_one) {
  auto plan = sample_plan();
  Ledger ledger(plan);
  EXPECT_EQ(ledger.method(0), Method::Whole);
  EXPECT_EQ(ledger.method(2), Method::ByChunk);
  ledger.add_source_chunk(0, {2, 10, 20}, CopyFormat::Binary);
  ledger.add_source_chunk(1, {3, 5, 7}, CopyFormat::Binary);
  ledger.add_source_chunk(2, {4, 1, 1}, CopyFormat::Binary);
  ledger.add_source_chunk(3, {4, 2, 2}, CopyFormat::Binary);
  EXPECT_EQ(ledger.chunks_to_read(), (std::vector<size_t>{2, 3}));
  ASSERT_EQ(ledger.tables_to_read().size(), 1u);
  EXPECT_EQ(ledger.tables_to_read()[0].name, "\"s\".\"p\"");

  ledger.set_target_table("\"s\".\"p\"", {CopyFormat::Binary, {5, 15, 27}});  // the two partitions' sum
  ledger.set_target_chunk(2, {4, 1, 1});
  ledger.set_target_chunk(3, {4, 2, 2});
  auto same = ledger.compare();
  EXPECT_TRUE(same.ok());
  EXPECT_EQ(same.chunks_compared, 2u);
  EXPECT_EQ(same.tables_compared, 1u);

  ledger.set_target_chunk(3, {4, 2, 3});  // one row of the second chunk differs
  ledger.set_target_table("\"s\".\"p\"", {CopyFormat::Binary, {5, 15, 28}});
  auto differs = ledger.compare();
  ASSERT_EQ(differs.differences.size(), 2u);
  EXPECT_EQ(differs.differences[0].chunk, std::optional<size_t>(3));
  EXPECT_NE(differs.differences[0].what.find("\"id\" >= 10"), std::string::npos);
  EXPECT_EQ(differs.differences[1].what, "table \"s\".\"p\"");
  EXPECT_FALSE(differs.differences[1].table.has_value()) << "two source tables: neither alone is to blame";
}

TEST(LedgerRuleTest, a_chunk_without_its_target_read_is_a_difference_not_a_pass) {
  auto plan = sample_plan();
  Ledger ledger(plan);
  ledger.add_source_chunk(2, {4, 1, 1}, CopyFormat::Binary);
  auto report = ledger.compare();
  EXPECT_FALSE(report.ok());
}

TEST(LedgerRuleTest, a_target_that_held_rows_is_compared_on_the_copied_rows_or_said_not_compared) {
  plan::Plan plan;
  plan.tables = {table("\"s\".\"a\"", "\"s\".\"merged\"", true), table("\"s\".\"b1\"", "\"s\".\"two\"", false),
                 table("\"s\".\"b2\"", "\"s\".\"two\"", false)};
  plan.chunks = {{0}, {1}, {2}};
  Ledger ledger(plan, {"\"s\".\"merged\"", "\"s\".\"two\""});
  EXPECT_EQ(ledger.method(0), Method::CopiedRows) << "one source table with a copied key";
  EXPECT_EQ(ledger.method(1), Method::NotCompared) << "two source tables: which rows are the copy's is unknown";
  ledger.add_source_chunk(0, {2, 9, 9}, CopyFormat::Binary);
  EXPECT_TRUE(ledger.tables_to_read().empty()) << "not read before the copied rows' keys are known";
  ledger.set_copied_rows("\"s\".\"merged\"", "(\"id\") IN (SELECT id FROM copied)");
  ASSERT_EQ(ledger.tables_to_read().size(), 1u);
  ledger.set_target_table("\"s\".\"merged\"", {CopyFormat::Binary, {2, 9, 9}});
  auto report = ledger.compare();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.copied_rows_only, (std::vector<std::string>{"\"s\".\"merged\""}));
  ASSERT_EQ(report.not_compared.size(), 1u);
  EXPECT_TRUE(report.not_compared[0].starts_with("\"s\".\"two\"")) << report.not_compared[0];
}

TEST(LedgerRuleTest, a_table_whose_chunks_travelled_in_two_forms_is_not_compared) {
  auto plan = sample_plan();
  Ledger ledger(plan);
  ledger.add_source_chunk(0, {2, 10, 20}, CopyFormat::Binary);
  ledger.add_source_chunk(1, {3, 5, 7}, CopyFormat::Text);
  for (const auto& read : ledger.tables_to_read()) EXPECT_NE(read.name, "\"s\".\"p\"");
  auto report = ledger.compare();
  ASSERT_EQ(report.not_compared.size(), 1u);
  EXPECT_NE(report.not_compared[0].find("partly in binary, partly as text"), std::string::npos);
}

}  // namespace
}  // namespace pgblit::verify
