// The go/no-go weighs the rows the run will move, counted where statistics cannot be trusted,
// and checks constraints as the target enforces them: NOT NULL whatever the default (COPY
// applies none to an explicit NULL), and NULLs distinct under a unique constraint. Each
// verdict is then proved by the copy itself.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class GoNoGoTest : public DatabasePair {
 protected:
  nlohmann::json dry_run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"plan", "--source", source_url(), "--target", target_url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    last_ = run_pgblit(args);
    return nlohmann::json::parse(last_.output.substr(last_.output.find('{')))["dry_run"];
  }
  // The rows each check's findings count, by check.
  static std::map<std::string, int64_t> rows_by_check(const nlohmann::json& dry) {
    std::map<std::string, int64_t> rows;
    for (const auto& f : dry["findings"]) rows[f["check"]] += f["rows"].get<int64_t>();
    return rows;
  }
  // The proof of a count: a copy that sets the rows the target refuses aside (exit 4), so what
  // the target then holds shows exactly which rows it refused.
  RunResult copy_setting_aside(int max_rejects, std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--max-rejects", std::to_string(max_rejects), "--rejects-dir", "/tmp/pgblit-gonogo-" + db_});
    return copy(extra);
  }
  RunResult last_;
};

TEST_F(GoNoGoTest, a_source_never_analyzed_is_counted_and_null_into_not_null_with_default_is_found) {
  // Never analyzed (reltuples -1), as after a fresh restore; autovacuum may not look first.
  source_sql("CREATE TABLE t (id int PRIMARY KEY, b boolean) WITH (autovacuum_enabled = off);"
             "INSERT INTO t SELECT g, CASE WHEN g <= 120 THEN NULL ELSE g % 2 = 0 END FROM generate_series(1, 10000) g");
  target_sql("CREATE TABLE t (id int PRIMARY KEY, b boolean NOT NULL DEFAULT false)");
  ASSERT_EQ(source_value("SELECT reltuples FROM pg_class WHERE relname = 't'"), "-1");
  auto no_go = dry_run();
  EXPECT_EQ(last_.exit_code, 5) << last_.output;
  EXPECT_EQ(no_go["rows"], 10000) << "counted, not 0 from missing statistics";
  EXPECT_EQ(no_go["warning_rows"], 120);
  EXPECT_EQ(no_go["exact_rows"], true);
  // Each count named: the verdict's and the check's.
  EXPECT_NE(no_go["verdict"].get<std::string>().find("no-go: 120 rows with warnings, 1.200% of 10000 rows"),
            std::string::npos) << no_go["verdict"];
  EXPECT_EQ(rows_by_check(no_go)["not null"], 120) << no_go.dump(1);
  // The copy proves it: exactly those rows are refused.
  auto refused = copy_setting_aside(1000);
  EXPECT_EQ(refused.exit_code, 4) << refused.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "9880");

  // 0.75%: go, and the copy then refuses exactly those rows.
  source_sql("UPDATE t SET b = true WHERE id > 75 AND b IS NULL");
  target_sql("DROP SCHEMA pgblit CASCADE; TRUNCATE t");
  auto go = dry_run();
  EXPECT_EQ(last_.exit_code, 0) << last_.output;
  EXPECT_EQ(go["warning_rows"], 75);
  EXPECT_NE(go["verdict"].get<std::string>().find("go: 75 rows with warnings (0.750% of 10000 rows"), std::string::npos)
      << go["verdict"];
  EXPECT_TRUE(go["go"].get<bool>());
}

TEST_F(GoNoGoTest, a_filtered_run_is_weighed_on_its_own_rows) {
  // 50 bad rows: 0.5% of the table, but 5% of the 1,000 rows the run moves.
  source_sql("CREATE TABLE t (id int PRIMARY KEY, org int, b boolean);"
             "INSERT INTO t SELECT g, CASE WHEN g <= 1000 THEN 1 ELSE 2 END, CASE WHEN g <= 50 THEN NULL ELSE true END"
             " FROM generate_series(1, 10000) g; ANALYZE t");
  target_sql("CREATE TABLE t (id int PRIMARY KEY, org int, b boolean NOT NULL)");
  std::string file = "/tmp/pgblit-gonogo-" + db_ + ".yaml";
  std::ofstream(file) << "version: 1\ntables:\n  public.t:\n    where: \"org = 1\"\n";
  auto dry = dry_run({"--mapping", file});
  EXPECT_EQ(last_.exit_code, 5) << last_.output;
  EXPECT_EQ(dry["rows"], 1000) << "the rows the run moves, counted";
  EXPECT_EQ(dry["warning_rows"], 50);
  EXPECT_FALSE(dry["go"].get<bool>());
  std::remove(file.c_str());
}

TEST_F(GoNoGoTest, nulls_are_not_duplicates_under_a_unique_constraint) {
  source_sql("CREATE TABLE u (id int PRIMARY KEY, code text);"
             "INSERT INTO u SELECT g, NULL FROM generate_series(1, 30) g;"
             "INSERT INTO u SELECT 100 + g, 'c' || (g % 7) FROM generate_series(1, 14) g;"
             "INSERT INTO u SELECT 200 + g, 'unique' || g FROM generate_series(1, 50) g");
  target_sql("CREATE TABLE u (id int PRIMARY KEY, code text UNIQUE)");
  auto dry = dry_run();
  int64_t duplicates = 0;
  for (const auto& f : dry["findings"]) {
    if (f["check"] != "unique") continue;
    duplicates += f["rows"].get<int64_t>();
    EXPECT_NE(f["example"], "()") << f.dump();
  }
  EXPECT_EQ(duplicates, 7) << "7 repeated values, twice each, one of each refused; the 30 NULLs are distinct";
  // Proved by the copy: the constraint's rebuild fails on exactly those 7 values.
  auto copied = copy_setting_aside(100, {"--indexes", "keep"});
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM u WHERE code IS NULL"), "30");
  EXPECT_EQ(target_value("SELECT count(*) FROM u"), std::to_string(30 + 7 + 50));
}

TEST_F(GoNoGoTest, rows_with_warnings_counts_rows_not_findings) {
  source_sql("CREATE TABLE r (id int PRIMARY KEY, name text, code text);"
             "INSERT INTO r SELECT g, 'n' || g, 'c' || g FROM generate_series(1, 1000) g;"
             "UPDATE r SET name = NULL WHERE id <= 6;"                  // 6 NULLs
             "UPDATE r SET code = 'far too long' WHERE id BETWEEN 4 AND 9");  // 6 too long, 3 of them NULL-named
  target_sql("CREATE TABLE r (id int PRIMARY KEY, name text NOT NULL, code varchar(5))");
  auto dry = dry_run();
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["not null"], 6);
  EXPECT_EQ(rows["length"], 6);
  EXPECT_EQ(dry["warning_rows"], 9) << "rows 4 to 6 have two problems: counted once";
  // The copy refuses exactly those 9 rows.
  auto copied = copy_setting_aside(100);
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM r"), "991");
}

TEST_F(GoNoGoTest, domain_checks_and_not_null_domains_are_counted_as_the_target_enforces_them) {
  source_sql("CREATE TABLE people (id int PRIMARY KEY, email text, age int);"
             "INSERT INTO people SELECT g, CASE WHEN g <= 5 THEN 'nobody' ELSE 'p' || g || '@x.org' END,"
             " CASE WHEN g BETWEEN 10 AND 12 THEN NULL WHEN g BETWEEN 20 AND 21 THEN -1 ELSE 30 END"
             " FROM generate_series(1, 300) g");
  target_sql("CREATE DOMAIN email_t AS text CHECK (VALUE LIKE '%@%');"
             "CREATE DOMAIN age_t AS int NOT NULL;"
             "CREATE DOMAIN adult_age_t AS age_t CHECK (VALUE >= 0);"
             "CREATE TABLE people (id int PRIMARY KEY, email email_t, age adult_age_t)");
  auto dry = dry_run();
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["check"], 5 + 2) << dry.dump(1);
  EXPECT_EQ(rows["not null"], 3) << dry.dump(1);
  EXPECT_EQ(dry["warning_rows"], 10);
  // Proved by the copy: the target refuses exactly those rows.
  auto copied = copy_setting_aside(100);
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM people"), "290");
}

TEST_F(GoNoGoTest, each_check_runs_on_its_own_and_a_rounding_is_a_warning) {
  source_sql("CREATE TABLE items (id int PRIMARY KEY, kind text, name text, price numeric);"
             "INSERT INTO items SELECT g, CASE WHEN g <= 3 THEN 'gadget' ELSE 'tool' END,"
             " CASE WHEN g % 50 = 0 THEN NULL ELSE 'n' || g END, CASE WHEN g <= 4 THEN 2.675 ELSE g END"
             " FROM generate_series(1, 200) g");
  target_sql("CREATE TABLE items (id int PRIMARY KEY, kind text, name text NOT NULL, price numeric(14,2))");
  // A value map that fails on 3 rows (else: error) must not stop the NOT NULL check of another column.
  std::string file = "/tmp/pgblit-gonogo-" + db_ + ".yaml";
  {
    std::ofstream out(file);
    out << "version: 1\ntables:\n  public.items:\n    columns:\n      kind: {from: kind, map: {tool: t}, else: error}\n";
  }
  auto dry = dry_run({"--mapping", file});
  for (const auto& f : dry["findings"]) {
    EXPECT_EQ(f["message"].get<std::string>().find("did not run"), std::string::npos) << f.dump();
  }
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["not null"], 4) << dry.dump(1);
  EXPECT_EQ(rows["value map"], 3) << dry.dump(1);
  // Rows 1-3 are set aside for the map (counted under value map): only row 4's 2.675 is stored, as 2.68.
  EXPECT_EQ(rows["rounding"], 1) << "2.675 is stored as 2.68: " << dry.dump(1);
  std::remove(file.c_str());
}

}  // namespace
}  // namespace pgblit::test
