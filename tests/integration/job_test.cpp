// `--job FILE`: a nightly rehearsal as one reviewed file. Connections by service and by
// environment variable name, flags that win over the file, the run recording the file and its
// digest, plan taking the same file, an inline mapping whose mistakes are named in the job
// file's lines, and a password or a typo refused with its line and column before anything moves.
#include <unistd.h>
#include <fmt/format.h>
#include <xxhash.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class JobTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    dir_ = "/tmp/pgblit-job-test-" + std::to_string(getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The source by service name (a service file of the test's own), the target by variable.
    std::ofstream(dir_ + "/pg_service.conf") << "[legacy]\nhost=127.0.0.1\nport=" << source_port()
                                             << "\nuser=postgres\ndbname=" << db_ << "\n";
    setenv("PGSERVICEFILE", (dir_ + "/pg_service.conf").c_str(), 1);
    setenv("PGBLIT_JOB_TEST_TARGET", target_url().c_str(), 1);
    both_sql("CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY, org int, note text);"
             "CREATE TABLE sales.audit_log (id int PRIMARY KEY, what text)");
    source_sql("INSERT INTO sales.orders SELECT g, g % 3, repeat(md5(g::text), 2) FROM generate_series(1, 3000) g;"
               "INSERT INTO sales.audit_log SELECT g, 'x' FROM generate_series(1, 100) g; ANALYZE");
  }
  void TearDown() override {
    unsetenv("PGSERVICEFILE");
    fs::remove_all(dir_);
  }
  std::string write_job(const std::string& text, const std::string& name = "move.yaml") {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  static std::string job_text(const std::string& extra = "") {
    return "version: 1\n"
           "source: {service: legacy}\n"
           "target: {env: PGBLIT_JOB_TEST_TARGET}\n"
           "selection:\n"
           "  schema: [sales]\n"
           "  exclude-table: [sales.audit_log]\n"
           "options:\n"
           "  jobs: 2\n"
           "  chunk-size: 64kB\n"
           "  yes: true\n"
           "  progress: off\n" +
           extra;
  }
  std::vector<std::string> run_dirs() const {
    return {"--run-dir", dir_ + "/runs", "--rejects-dir", dir_ + "/rejects"};
  }
  RunResult pgblit(std::vector<std::string> args) {
    auto dirs = run_dirs();
    args.insert(args.end(), dirs.begin(), dirs.end());
    return run_pgblit(args);
  }

  std::string dir_;
};

TEST_F(JobTest, a_copy_from_a_job_file_alone_moves_the_selection_and_records_the_file) {
  std::string job = write_job(job_text());
  auto run = pgblit({"copy", "--job", job});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("sales.orders");
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.audit_log"), "0") << "excluded by the file's selection";
  EXPECT_GT(std::stoi(target_value("SELECT count(*) FROM pgblit.chunks")), 2) << "the file's 64kB chunks";
  std::string bytes = slurp(job);
  EXPECT_EQ(target_value("SELECT options -> 'audit' -> 'job' ->> 'digest' FROM pgblit.runs"),
            fmt::format("{:016x}", XXH3_64bits(bytes.data(), bytes.size())));
  EXPECT_EQ(target_value("SELECT options -> 'audit' -> 'job' ->> 'file' FROM pgblit.runs"), job);
}

TEST_F(JobTest, flags_on_the_command_line_win_over_the_file) {
  std::string job = write_job(job_text());
  // The file selects sales.orders (audit_log excluded); -t on the command line selects audit_log.
  auto run = pgblit({"copy", "--job", job, "-t", "sales.audit_log", "-T", "sales.orders", "-j", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.audit_log"), "100");
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders"), "0");
}

TEST_F(JobTest, plan_takes_the_same_job_file) {
  std::string job = write_job(job_text("go-no-go:\n  max-warning-ratio: 0.5\n"));
  auto plan = run_pgblit({"plan", "--job", job});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_TRUE(mentions(plan, "sales")) << plan.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders"), "0") << "the dry run writes nothing";
}

// `copy --dry-run --job FILE` is `plan --job FILE`: the estimate it keeps for the copy names the file.
TEST_F(JobTest, a_dry_run_of_a_copy_job_keeps_its_estimate_with_the_file) {
  std::string job = write_job(job_text("go-no-go:\n  estimate-seconds: 1\n"));
  auto dry = pgblit({"copy", "--dry-run", "--job", job});
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders"), "0") << "the dry run writes nothing";
  std::vector<nlohmann::json> kept;
  for (const auto& f : fs::directory_iterator(dir_ + "/runs/estimates")) kept.push_back(nlohmann::json::parse(slurp(f.path())));
  ASSERT_EQ(kept.size(), 1u) << dry.output;
  EXPECT_EQ(kept[0]["job"], job) << kept[0].dump();
}

TEST_F(JobTest, a_password_in_the_file_is_refused_with_its_line_and_column) {
  std::string job = write_job("version: 1\n"
                              "source: {service: legacy}\n"
                              "target: \"postgresql://postgres:Sup3rSecret@127.0.0.1/x\"\n");
  auto run = pgblit({"copy", "--job", job});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, job + ":3:9")) << run.output;
  EXPECT_TRUE(mentions(run, "must not")) << run.output;
  EXPECT_FALSE(mentions(run, "Sup3rSecret")) << run.output;
  std::string keyed = write_job("version: 1\nsource: {service: legacy}\ntarget: {env: X}\noptions:\n  password: hunter2\n",
                                "keyed.yaml");
  auto refused = pgblit({"copy", "--job", keyed});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, keyed + ":5:3")) << refused.output;
  EXPECT_FALSE(mentions(refused, "hunter2")) << refused.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

TEST_F(JobTest, mistakes_are_named_by_line_and_column) {
  struct Case {
    std::string text, where, says;
  };
  std::vector<Case> cases = {
      {job_text("  max-reject: 5\n"), ":12:3", "did you mean 'max-rejects'"},
      {job_text("  jobs: 3\n"), ":12:3", "twice"},
      {job_text("hooks:\n  jobs: 3\n"), ":13:3", "does not belong in 'hooks'"},
      {job_text("go-no-go: {max-warning-ratio: lots}\n"), ":12:31", "max-warning-ratio"},
      {"version: 1\nsource: {env: PGBLIT_JOB_TEST_UNSET}\n", ":2:15", "PGBLIT_JOB_TEST_UNSET"},
      {"version: 2\n", ":1:10", "version: 1"},
      // An inline mapping's own mistake, named in the job file's lines.
      {job_text("mapping:\n  version: 1\n  tables:\n    sales.orders:\n      colums: {}\n"), ":16:7", "colums"},
  };
  for (const auto& c : cases) {
    std::string job = write_job(c.text, "bad.yaml");
    auto run = pgblit({"copy", "--job", job});
    EXPECT_EQ(run.exit_code, 2) << c.text << run.output;
    EXPECT_TRUE(mentions(run, "bad.yaml" + c.where)) << c.text << run.output;
    EXPECT_TRUE(mentions(run, c.says)) << c.text << run.output;
  }
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders"), "0");
}

TEST_F(JobTest, an_inline_mapping_shapes_the_rows) {
  std::string job = write_job(job_text("mapping:\n"
                                       "  version: 1\n"
                                       "  tables:\n"
                                       "    sales.orders: {where: \"org = 1\"}\n"));
  auto run = pgblit({"copy", "--job", job});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders"), "1000");
  EXPECT_EQ(target_value("SELECT count(*) FROM sales.orders WHERE org <> 1"), "0");
}

}  // namespace
}  // namespace pgblit::test
