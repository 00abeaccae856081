// pgblit verify finds and classifies every kind of difference, down to the row.
#include <nlohmann/json.hpp>

#include <set>
#include <tuple>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class VerifyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    // The target has no primary key, so it can hold duplicates; a plain index on the key lets
    // each chunk be read back by range.
    source_sql("CREATE TABLE t (id int PRIMARY KEY, a text, f float8, n numeric)");
    target_sql("CREATE TABLE t (id int, a text, f float8, n numeric); CREATE INDEX ON t (id)");
    both_sql("CREATE TABLE log (at int, line text)");
    const char* rows = "INSERT INTO t SELECT g, md5(g::text), CASE WHEN g = 30 THEN 0 ELSE g / 7.0 END, "
                       "CASE WHEN g = 40 THEN 1.0 ELSE g END FROM generate_series(1, 40000) g;"
                       "INSERT INTO log SELECT g, 'line ' || g FROM generate_series(1, 5000) g";
    source_sql(rows);
    target_sql(rows);
  }

  // Runs verify --json and returns (exit code, {kind: set of keys}).
  std::pair<int, std::map<std::string, std::set<std::string>>> verify(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"verify", "--source", source_url(), "--target", target_url(), "--json",
                                  "--chunk-size", "512kB", "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto run = run_pgblit(args);
    std::map<std::string, std::set<std::string>> found;
    auto report = nlohmann::json::parse(run.output.substr(run.output.find('{')));
    for (const auto& d : report["differences"]) {
      for (const auto& r : d["rows"]) found[r["kind"]].insert(r["key"]);
      if (d["rows"].empty()) found["whole"].insert(d["what"]);
    }
    last_report = report;
    return {run.exit_code, found};
  }
  nlohmann::json last_report;
};

TEST_F(VerifyTest, identical_tables_verify_clean) {
  auto [code, found] = verify();
  EXPECT_EQ(code, 0) << last_report.dump();
  EXPECT_TRUE(found.empty());
  EXPECT_GE(last_report["chunks_compared"].get<int>(), 4);
}

TEST_F(VerifyTest, deleted_inserted_changed_duplicated_and_byte_level_differences_are_found) {
  target_sql(R"sql(
DELETE FROM t WHERE id IN (10, 25000);
INSERT INTO t VALUES (50000, 'new', 1, 1);
UPDATE t SET a = 'edited' WHERE id = 777;
INSERT INTO t SELECT * FROM t WHERE id = 20;
UPDATE t SET f = '-0' WHERE id = 30;
UPDATE t SET n = 1.00 WHERE id = 40)sql");
  auto [code, found] = verify();
  EXPECT_EQ(code, 3) << last_report.dump();
  EXPECT_EQ(found["missing in target"], (std::set<std::string>{"10", "25000"}));
  EXPECT_EQ(found["extra in target"], (std::set<std::string>{"50000", "20"}));
  EXPECT_EQ(found["changed"], (std::set<std::string>{"777", "30", "40"}));
}

TEST_F(VerifyTest, without_an_index_on_the_target_a_table_is_compared_whole_and_still_localized) {
  target_sql("DROP INDEX t_id_idx; DELETE FROM t WHERE id = 31000; UPDATE t SET a = 'x' WHERE id = 5");
  auto [code, found] = verify();
  EXPECT_EQ(code, 3) << last_report.dump();
  EXPECT_EQ(last_report["differences"][0]["what"], "table \"public\".\"t\"");
  EXPECT_EQ(found["missing in target"], (std::set<std::string>{"31000"}));
  EXPECT_EQ(found["changed"], (std::set<std::string>{"5"}));
}

TEST_F(VerifyTest, a_keyless_table_is_compared_whole_and_max_diffs_bounds_the_report) {
  target_sql("UPDATE log SET line = 'x' WHERE at = 7; DELETE FROM t WHERE id <= 5");
  auto [code, found] = verify({"--max-diffs", "3"});
  EXPECT_EQ(code, 3) << last_report.dump();
  // Without a key its rows cannot be named: the difference is reported for the chunk.
  ASSERT_EQ(found["whole"].size(), 1u);
  EXPECT_NE(found["whole"].begin()->find("\"public\".\"log\""), std::string::npos) << *found["whole"].begin();
  EXPECT_EQ(found["missing in target"].size(), 3u);
}

TEST_F(VerifyTest, a_large_table_compared_whole_is_read_in_page_ranges_and_every_range_counts) {
  // About 2,500 pages: read as several ctid ranges per side, shared by the sessions.
  const char* fill = "CREATE TABLE wide (at int, line text);"
                     "INSERT INTO wide SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g";
  source_sql(fill);
  target_sql(fill);
  auto [same, none] = verify();
  EXPECT_EQ(same, 0) << last_report.dump();
  // One row changed at each end of the heap: both the first and the last range must see theirs.
  target_sql("UPDATE wide SET line = 'x' WHERE at IN (1, 150000)");
  auto [code, found] = verify();
  EXPECT_EQ(code, 3) << last_report.dump();
  ASSERT_EQ(last_report["differences"].size(), 1u) << last_report.dump();
  const auto& difference = last_report["differences"][0];
  EXPECT_NE(difference["what"].get<std::string>().find("\"public\".\"wide\""), std::string::npos);
  EXPECT_EQ(difference["source"]["rows"], 150000);  // every range of the source was read
  EXPECT_EQ(difference["target"]["rows"], 150000);
  target_sql("UPDATE wide SET line = repeat(md5(at::text), 4) WHERE at = 1");
  std::tie(code, found) = verify();
  EXPECT_EQ(code, 3) << "the change in the heap's last range went unseen";
}

}  // namespace
}  // namespace pgblit::test
