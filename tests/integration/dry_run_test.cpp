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
UPDATE children SET code = 'dup' WHERE id IN (30, 31, 32);                 -- unique on the target: 2 refused
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
  auto allowed = plan_json({"--max-warning-ratio", "0.0011"});  // 11 / 10,000 = 0.0011: allowed
  EXPECT_EQ(last_.exit_code, 0) << last_.output;
  EXPECT_TRUE(allowed["dry_run"]["verdict"].get<std::string>().ends_with(
      "copy with --max-rejects 11 to set them aside, or fix them first"))
      << "a go with warnings says how the copy gets past them: " << allowed.dump();
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

// What the target's types, CHECKs and tables outside the copy demand, counted on the source.
TEST_F(DryRunTest, types_checks_and_parents_on_the_target_are_counted) {
  source_sql(R"(
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
CREATE TABLE readings (id int PRIMARY KEY, m mood, big bigint, amount numeric, score int, region int);
INSERT INTO readings SELECT g, 'ok', g, g, g % 10, g % 5 FROM generate_series(1, 2000) g;
UPDATE readings SET m = 'ecstatic' WHERE id <= 5;                    -- a label the target lacks
UPDATE readings SET big = 3000000000 + id WHERE id BETWEEN 10 AND 16;  -- beyond integer
UPDATE readings SET amount = 1234567 WHERE id BETWEEN 20 AND 22;       -- beyond numeric(8,2)
UPDATE readings SET score = -1 WHERE id BETWEEN 30 AND 38;            -- breaks CHECK (score >= 0)
UPDATE readings SET region = 7 WHERE id BETWEEN 40 AND 43;            -- no such region on the target
ANALYZE)");
  target_sql(R"(
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE regions (id int PRIMARY KEY);
INSERT INTO regions SELECT generate_series(0, 4);
CREATE TABLE readings (id int PRIMARY KEY, m mood, big int, amount numeric(8,2), score int CHECK (score >= 0),
                       region int REFERENCES regions))");
  std::string before = target_dump();
  auto dry = plan_json({"-t", "public.readings", "--exact-counts"})["dry_run"];
  std::map<std::string, int64_t> rows;
  for (const auto& f : dry["findings"]) rows[f["check"]] += f["rows"].get<int64_t>();
  EXPECT_EQ(rows["enum"], 5) << dry.dump(1);
  EXPECT_EQ(rows["range"], 7) << dry.dump(1);
  EXPECT_EQ(rows["numeric"], 3) << dry.dump(1);
  EXPECT_EQ(rows["check"], 9) << dry.dump(1);
  EXPECT_EQ(rows["foreign key"], 4) << dry.dump(1);
  EXPECT_EQ(dry["rows"], 2000);
  EXPECT_TRUE(dry["exact_rows"].get<bool>());
  EXPECT_EQ(dry["warning_rows"], 28);
  EXPECT_EQ(target_dump(), before) << "the dry run writes nothing";
}

// Keys the target already holds count when appending; --checks fast samples and says so.
TEST_F(DryRunTest, appending_counts_existing_keys_and_fast_checks_are_labelled_estimates) {
  target_sql("INSERT INTO parents SELECT g, 'old' FROM generate_series(995, 1010) g");
  auto dry = plan_json({"--on-existing", "append", "-t", "public.parents"})["dry_run"];
  int64_t existing = 0;
  for (const auto& f : dry["findings"]) {
    if (f["check"] == "existing key") existing += f["rows"].get<int64_t>();
  }
  EXPECT_EQ(existing, 6) << "keys 995..1000 are on both sides: " << dry.dump(1);
  source_sql("INSERT INTO children SELECT g, 1, 'c' || g, NULL FROM generate_series(9001, 300000) g; ANALYZE children");
  auto fast = plan_json({"--checks", "fast", "-t", "public.children"})["dry_run"];
  bool labelled = false;
  for (const auto& f : fast["findings"]) {
    if (f["check"] == "not null") {
      labelled = f["estimated"].get<bool>();
      EXPECT_NEAR(f["rows"].get<double>(), 291003, 291003 * 0.5) << f.dump();
    }
  }
  EXPECT_TRUE(labelled) << fast.dump(1);
}

// The estimate is measured on this pair: sample loads into probe tables that are rolled back.
TEST_F(DryRunTest, the_estimate_is_measured_and_leaves_nothing_behind) {
  target_sql("CREATE INDEX ON children (parent_id)");
  std::string before = target_dump();
  auto relations = target_value("SELECT count(*) FROM pg_class");
  auto estimate = plan_json({"--estimate-seconds", "1"})["dry_run"]["estimate"];
  ASSERT_TRUE(estimate["measured"].get<bool>()) << estimate.dump(1);
  EXPECT_GT(estimate["seconds"].get<double>(), 0);
  EXPECT_LE(estimate["low_seconds"].get<double>(), estimate["seconds"].get<double>());
  EXPECT_GE(estimate["high_seconds"].get<double>(), estimate["seconds"].get<double>());
  EXPECT_GT(estimate["phases"]["indexes"].get<double>(), 0) << "deferred indexes are priced";
  EXPECT_GT(estimate["phases"]["verify"].get<double>(), 0);
  EXPECT_NE(estimate["basis"].get<std::string>().find("rolled-back probe tables"), std::string::npos);
  EXPECT_GT(estimate["pgblit_memory_bytes"].get<int64_t>(), 0);
  EXPECT_GT(estimate["target_disk_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(target_dump(), before);
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_class"), relations) << "no probe table is left";
  // Samples stopped mid-stream (a long table, a short budget) end their source COPY cleanly.
  source_sql("CREATE TABLE wide AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 300000) g");
  target_sql("CREATE TABLE wide (id int, pad text)");
  auto cut = plan_json({"-t", "public.wide", "--estimate-seconds", "0.2"})["dry_run"]["estimate"];
  EXPECT_TRUE(cut["measured"].get<bool>()) << cut.dump(1);
  auto off = plan_json({"--estimate-seconds", "0"})["dry_run"]["estimate"];
  EXPECT_FALSE(off["measured"].get<bool>());
  auto text = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--estimate-seconds", "1"});
  EXPECT_TRUE(mentions(text, "Estimate:")) << text.output;
  EXPECT_TRUE(mentions(text, "basis: ")) << text.output;
}

}  // namespace
}  // namespace pgblit::test
