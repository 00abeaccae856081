// The dry run counts, on the real rows, what the target would refuse, flips its verdict
// exactly at --max-warning-ratio, reports a copy that cannot be planned as no-go, and leaves
// the target exactly as it was.
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class DryRunTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    // 10,000 rows in all; the target demands what 3 + 4 + 2 + 2 = 11 of them break.
    source_sql(R"(
CREATE TABLE parents (id int PRIMARY KEY, name text);
CREATE TABLE children (id int PRIMARY KEY, parent_id int, code text, note text);
INSERT INTO parents SELECT g, 'parent ' || g FROM generate_series(1, 1000) g;
INSERT INTO children SELECT g, g % 1000 + 1, 'c' || g, 'note' FROM generate_series(1, 9000) g;
UPDATE children SET note = NULL WHERE id IN (1, 2, 3);                      -- NOT NULL on the target
UPDATE children SET code = 'too long ' || id WHERE id IN (10, 11, 12, 13);  -- varchar(6) on the target
UPDATE children SET parent_id = 5000 + id WHERE id IN (20, 21);            -- orphans
UPDATE children SET code = 'dup' WHERE id IN (30, 31);                     -- unique on the target
ANALYZE)");
    target_sql(R"(
CREATE TABLE parents (id int PRIMARY KEY, name text);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents, code varchar(6) UNIQUE, note text NOT NULL))");
  }

  nlohmann::json plan_json(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"plan", "--source", source_url(), "--target", target_url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    last_ = run_pgblit(args);
    return nlohmann::json::parse(last_.output.substr(last_.output.find('{')));
  }

  // Everything the target holds, catalog and rows.
  std::string target_dump() { return shell_output("pg_dump '" + target_url() + "' | grep -v '^\\\\'"); }

  RunResult last_;
};

TEST_F(DryRunTest, every_problem_is_counted_on_the_rows_with_its_severity_and_an_example) {
  std::string before = target_dump();
  auto dry = plan_json()["dry_run"];
  std::map<std::string, int64_t> rows;
  for (const auto& f : dry["findings"]) {
    EXPECT_EQ(f["severity"], "warning") << f.dump();
    EXPECT_FALSE(f["example"].get<std::string>().empty()) << f.dump();
    EXPECT_FALSE(f["fix"].get<std::string>().empty()) << f.dump();
    rows[f["check"]] += f["rows"].get<int64_t>();
  }
  EXPECT_EQ(rows["not null"], 3);
  EXPECT_EQ(rows["length"], 4);
  EXPECT_EQ(rows["foreign key"], 2);
  EXPECT_EQ(rows["unique"], 2);
  EXPECT_EQ(dry["warning_rows"], 11);
  EXPECT_EQ(dry["rows"], 10000);
  EXPECT_TRUE(dry["go"].get<bool>()) << "11 of 10,000 rows is under 1%";
  EXPECT_EQ(last_.exit_code, 0);
  EXPECT_EQ(target_dump(), before) << "the dry run writes nothing";
}

TEST_F(DryRunTest, the_verdict_flips_exactly_at_the_warning_ratio) {
  plan_json({"--max-warning-ratio", "0.0011"});  // 11 / 10,000 = 0.0011: allowed
  EXPECT_EQ(last_.exit_code, 0) << last_.output;
  auto dry = plan_json({"--max-warning-ratio", "0.00109"});
  EXPECT_EQ(last_.exit_code, 5) << last_.output;
  EXPECT_FALSE(dry["dry_run"]["go"].get<bool>());
  auto text = run_pgblit({"copy", "--dry-run", "--source", source_url(), "--target", target_url(),
                          "--max-warning-ratio", "0.001"});
  EXPECT_EQ(text.exit_code, 5) << text.output;
  EXPECT_TRUE(mentions(text, "no-go: 11 rows with warnings")) << text.output;
  EXPECT_TRUE(mentions(text, "[not null] \"public\".\"children\".\"note\"")) << text.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM children"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

TEST_F(DryRunTest, errors_are_no_go_whatever_the_ratio) {
  target_sql("INSERT INTO parents VALUES (1, 'already here')");
  auto dry = plan_json({"--max-warning-ratio", "1"});
  EXPECT_EQ(last_.exit_code, 5) << last_.output;
  bool found = false;
  for (const auto& f : dry["dry_run"]["findings"]) found |= f["check"] == "target not empty" && f["severity"] == "error";
  EXPECT_TRUE(found) << dry.dump();
  // A table the target does not have: the copy cannot even be planned.
  source_sql("CREATE TABLE extra (x int)");
  auto missing = run_pgblit({"plan", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(missing.exit_code, 5) << missing.output;
  EXPECT_TRUE(mentions(missing, "table \"public\".\"extra\" does not exist on the target")) << missing.output;
  EXPECT_TRUE(mentions(missing, "no-go: the copy cannot be planned")) << missing.output;
}

}  // namespace
}  // namespace pgblit::test
