// A target column with a modifier the source lacks (numeric scale, fractional seconds): a
// mere rescale (37.1 stored as 37.10, the same number) copies and verifies clean; a value the
// target rounds (2.675 stored as 2.68) is a difference naming the column, exit 3, and the
// sequences are set all the same.
#include "harness.hpp"

namespace pgblit::test {
namespace {

using RescaleTest = DatabasePair;

TEST_F(RescaleTest, a_numeric_rescale_verifies_clean_and_a_rounding_is_named_with_sequences_set_anyway) {
  source_sql("CREATE TABLE prices (id serial PRIMARY KEY, amount numeric, at timestamp(6));"
             "INSERT INTO prices (amount, at) VALUES (37.1, '2026-01-01 10:00:00'), (2.5, '2026-01-01 10:00:01'),"
             " (100, '2026-01-01 10:00:02')");
  target_sql("CREATE TABLE prices (id serial PRIMARY KEY, amount numeric(14,2), at timestamp(0))");
  auto clean = copy();
  ASSERT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_EQ(target_value("SELECT amount::text FROM prices WHERE id = 1"), "37.10");
  auto verified = run_pgblit({"verify", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;

  // Values the target changes: named with the column, both in the copy and in verify.
  source_sql("INSERT INTO prices (amount, at) VALUES (2.675, '2026-01-01 10:00:03'), (5, '2026-01-01 10:00:04.6')");
  target_sql("DROP TABLE prices; CREATE TABLE prices (id serial PRIMARY KEY, amount numeric(14,2), at timestamp(0))");
  target_sql("DROP SCHEMA pgblit CASCADE");
  auto rounded = copy();
  EXPECT_EQ(rounded.exit_code, 3) << rounded.output;
  EXPECT_TRUE(mentions(rounded, "column \"amount\" of \"public\".\"prices\": 1 values change as the target's "
                                "numeric(14,2) stores them, e.g. 2.675 -> 2.68"))
      << rounded.output;
  EXPECT_TRUE(mentions(rounded, "column \"at\" of \"public\".\"prices\": 1 values change")) << rounded.output;
  EXPECT_EQ(target_value("SELECT nextval('prices_id_seq')"), "6") << "sequences are set whatever verification finds";
  auto differs = run_pgblit({"verify", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(differs.exit_code, 3) << differs.output;
  EXPECT_TRUE(mentions(differs, "differs: column \"amount\" of \"public\".\"prices\"")) << differs.output;
}

}  // namespace
}  // namespace pgblit::test
