// pgblit rollback: after a copy into empty tables, and after an append into tables that held
// rows (with --backup-target), the target equals its prior state, rows and sequences; without a
// backup, tables that held rows are refused and nothing changes.
#include <filesystem>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class RollbackTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    backup_ = std::filesystem::temp_directory_path() / ("pgblit-backup-" + db_);
    std::filesystem::remove_all(backup_);
    source_sql(R"(
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric);
INSERT INTO orders (customer, total) SELECT 'c' || g, g * 2.5 FROM generate_series(1, 30000) g;
CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'n' || g FROM generate_series(1, 500) g;
ANALYZE)");
    target_sql(R"(
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric);
CREATE TABLE customers (id int PRIMARY KEY, name text);)");
  }
  void TearDown() override { std::filesystem::remove_all(backup_); }

  std::string state() {
    return contents(*target_, "orders") + " | " + contents(*target_, "customers") + " | " +
           target_value("SELECT last_value || '/' || is_called FROM orders_id_seq");
  }
  RunResult rollback(const std::string& run) {
    return run_pgblit({"rollback", run, "--target", target_url(), "--yes"});
  }
  std::filesystem::path backup_;
};

TEST_F(RollbackTest, a_copy_into_empty_tables_is_undone_rows_and_sequences) {
  auto before = state();
  ASSERT_EQ(copy().exit_code, 0);
  ASSERT_NE(state(), before);
  auto undone = rollback("1");
  ASSERT_EQ(undone.exit_code, 0) << undone.output;
  EXPECT_EQ(state(), before);
  EXPECT_EQ(target_value("SELECT status FROM pgblit.runs WHERE id = 1"), "rolled back");
  auto twice = rollback("1");
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_TRUE(mentions(twice, "rolled back already")) << twice.output;
}

TEST_F(RollbackTest, an_append_into_tables_with_rows_is_undone_from_the_backup_it_took) {
  target_sql("INSERT INTO orders (id, customer, total) SELECT g, 'old' || g, g FROM generate_series(100001, 100300) g;"
             "SELECT setval('orders_id_seq', 100300); INSERT INTO customers VALUES (9001, 'kept')");
  auto before = state();
  auto run = copy({"--on-existing", "append", "--backup-target", backup_.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(std::filesystem::exists(backup_ / "manifest.json"));
  ASSERT_NE(state(), before);
  auto undone = rollback("1");
  ASSERT_EQ(undone.exit_code, 0) << undone.output;
  EXPECT_EQ(state(), before);
}

TEST_F(RollbackTest, without_a_backup_tables_that_held_rows_are_refused_and_nothing_changes) {
  target_sql("INSERT INTO customers VALUES (9001, 'kept')");
  ASSERT_EQ(copy({"--on-existing", "append", "-t", "orders", "-t", "customers"}).exit_code, 0);
  auto after_copy = state();
  auto refused = rollback("1");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "cannot be put back")) << refused.output;
  EXPECT_EQ(state(), after_copy);
  auto missing = rollback("7");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

}  // namespace
}  // namespace pgblit::test
