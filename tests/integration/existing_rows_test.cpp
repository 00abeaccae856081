// Target tables that already hold rows: refused by default, or emptied, or appended to.
#include "harness.hpp"

namespace pgblit::test {
namespace {

class ExistingRowsTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    both_sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (id int)");
    source_sql("INSERT INTO t SELECT g, 'src' FROM generate_series(1, 1000) g; INSERT INTO u VALUES (1)");
    target_sql("INSERT INTO t VALUES (5000, 'already here')");
  }
};

TEST_F(ExistingRowsTest, refuses_by_default_naming_the_tables) {
  auto run = copy();
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("target tables already hold rows: \"public\".\"t\""), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("--on-existing"), std::string::npos) << run.output;
  EXPECT_EQ(target_value("SELECT string_agg(id::text, ',') FROM t"), "5000");
  EXPECT_EQ(target_value("SELECT count(*) FROM u"), "0");
}

TEST_F(ExistingRowsTest, truncate_empties_first) {
  auto run = copy({"--on-existing", "truncate"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("t");
  expect_same_contents("u");
}

TEST_F(ExistingRowsTest, append_loads_beside_existing_rows) {
  auto run = copy({"--on-existing", "append"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "1001");
  expect_same_contents("t", "(SELECT * FROM t WHERE id <> 5000)");
}

}  // namespace
}  // namespace pgblit::test
