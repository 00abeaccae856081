// Partitioned tables: each row copied exactly once, whether the target partitions the same
// way, another way, or not at all.
#include "harness.hpp"

namespace pgblit::test {
namespace {

using PartitionsTest = DatabasePair;

constexpr const char* kRangeByMonth = R"sql(
CREATE TABLE events (id bigint, at date NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (at);
CREATE TABLE events_2024_h1 PARTITION OF events_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE events_2024_h2 PARTITION OF events_2024 FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT)sql";

constexpr const char* kFill = R"sql(
INSERT INTO events SELECT g, date '2024-01-01' + (g % 900), 'p' || g FROM generate_series(1, 9000) g)sql";

TEST_F(PartitionsTest, same_partitioning_keeps_rows_in_the_same_partitions) {
  both_sql(kRangeByMonth);
  source_sql(kFill);
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("events");
  for (const char* leaf : {"events_2024_h1", "events_2024_h2", "events_2025", "events_other"}) {
    expect_same_contents(leaf);
  }
}

TEST_F(PartitionsTest, unpartitioned_target_takes_all_rows_once) {
  source_sql(kRangeByMonth);
  source_sql(kFill);
  target_sql("CREATE TABLE events (id bigint, at date NOT NULL, payload text)");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("events");
}

TEST_F(PartitionsTest, differently_partitioned_target_routes_every_row_once) {
  source_sql(kRangeByMonth);
  source_sql(kFill);
  target_sql(R"sql(CREATE TABLE events (id bigint, at date NOT NULL, payload text) PARTITION BY HASH (id);
CREATE TABLE events_h0 PARTITION OF events FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE events_h1 PARTITION OF events FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES WITH (MODULUS 3, REMAINDER 2))sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("events");
  EXPECT_NE(target_value("SELECT count(*) FROM events_h0"), "0");
}

TEST_F(PartitionsTest, plain_source_into_partitioned_target) {
  source_sql("CREATE TABLE events (id bigint, at date NOT NULL, payload text)");
  source_sql(kFill);
  target_sql(kRangeByMonth);
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("events");
  EXPECT_EQ(target_value("SELECT count(*) FROM ONLY events_other"),
            source_value("SELECT count(*) FROM events WHERE at >= '2026-01-01'"));
}

TEST_F(PartitionsTest, selecting_a_partitioned_table_selects_its_partitions) {
  both_sql(kRangeByMonth);
  both_sql("CREATE TABLE unrelated (x int)");
  source_sql(kFill);
  source_sql("INSERT INTO unrelated VALUES (1)");
  auto run = copy({"-t", "events", "-T", "events_2025"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("events_2024");
  EXPECT_EQ(target_value("SELECT count(*) FROM events_2025"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM unrelated"), "0");
}

}  // namespace
}  // namespace pgblit::test
