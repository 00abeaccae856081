// `copy --metrics-file`: the Prometheus text file agrees with the run catalog after a real copy,
// says the truth while the run is held mid-load, carries the exit code of a run that set rows
// aside, and a path that cannot be written stops the copy before anything moves.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

// The samples of an exposition-format file: "name{labels}" -> value. Fails the test on a line
// that is neither a comment nor a sample, or a sample without its # TYPE.
std::map<std::string, double> parse_metrics(const fs::path& file) {
  std::ifstream in(file);
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  static const std::regex sample(R"(^([a-z_]+)(\{[^}]*\})? (-?[0-9.]+)$)");
  static const std::regex type(R"(^# TYPE ([a-z_]+) (gauge|counter)$)");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type)) {
      typed.insert(m[1]);
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_TRUE(typed.count(m[1])) << "no # TYPE before " << line;
      samples[m[1].str() + m[2].str()] = std::stod(m[3]);
    } else {
      EXPECT_EQ(line.rfind("# HELP ", 0), 0u) << "not the exposition format: " << line;
    }
  }
  return samples;
}

class MetricsTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    dir_ = "/tmp/pgblit-metrics-test-" + std::to_string(getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = fs::path(dir_) / "pgblit.prom";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a{"--run-dir", dir_ + "/runs", "--rejects-dir", dir_ + "/rejects", "--yes",
                               "--metrics-file", file_.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  double catalog(const std::string& sql) { return std::stod(target_value(sql)); }

  std::string dir_;
  fs::path file_;
};

TEST_F(MetricsTest, the_metrics_file_after_a_copy_agrees_with_the_run_catalog) {
  both_sql("CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE lines (id int PRIMARY KEY, qty int)");
  source_sql("INSERT INTO orders SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;"
             "INSERT INTO lines SELECT g, g % 7 FROM generate_series(1, 5000) g; ANALYZE");
  auto run = copy(args({"--chunk-size", "1MB", "-j", "2", "--progress", "off"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto m = parse_metrics(file_);
  EXPECT_EQ(m["pgblit_run_exit_code"], 0);
  EXPECT_EQ(m["pgblit_run_running"], 0);
  EXPECT_EQ(m["pgblit_run_id"], catalog("SELECT max(id) FROM pgblit.runs"));
  EXPECT_EQ(m["pgblit_rows_copied_total"], 65000);
  EXPECT_EQ(m["pgblit_rows_copied_total"], catalog("SELECT sum(rows) FROM pgblit.chunks"));
  EXPECT_EQ(m["pgblit_bytes_copied_total"], catalog("SELECT sum(bytes) FROM pgblit.chunks"));
  EXPECT_EQ(m["pgblit_chunks_total"], catalog("SELECT count(*) FROM pgblit.chunks"));
  EXPECT_GT(m["pgblit_chunks_total"], 2) << "1MB chunks split orders";
  EXPECT_EQ(m["pgblit_chunks_done"], m["pgblit_chunks_total"]);
  EXPECT_EQ(m["pgblit_rows_rejected_total"], 0);
  EXPECT_EQ(m["pgblit_tables"], 2);
  EXPECT_EQ(m["pgblit_jobs"], 2);
  // The phases the run went through, each timed, adding up to no more than the whole run.
  double phases = 0;
  for (const char* phase : {"plan", "load", "rebuild", "verify", "sequences", "analyze"}) {
    std::string key = std::string("pgblit_phase_duration_seconds{phase=\"") + phase + "\"}";
    ASSERT_TRUE(m.count(key)) << key;
    EXPECT_GE(m[key], 0) << key;
    phases += m[key];
  }
  EXPECT_GT(m["pgblit_phase_duration_seconds{phase=\"load\"}"], 0);
  EXPECT_LE(phases, m["pgblit_run_duration_seconds"] + 0.01);
  EXPECT_FALSE(fs::exists(file_.string() + ".tmp")) << "the temporary file was renamed into place";
  EXPECT_EQ(fs::status(file_).permissions() & fs::perms::others_read, fs::perms::others_read)
      << "a collector running as another user reads it";
}

TEST_F(MetricsTest, while_the_load_is_held_the_file_shows_a_running_run) {
  both_sql("CREATE TABLE held (id int PRIMARY KEY, note text)");
  source_sql("INSERT INTO held SELECT g, 'n' FROM generate_series(1, 1000) g; ANALYZE");
  gate_inserts_into("held");
  close_gate();
  PgblitProcess copy_process(copy_args(args({"--progress", "off", "--progress-interval", "0.5"})));
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << copy_process.output_so_far();
  // A tick after the run began rewrites the file: the run has its id and is in its load.
  ASSERT_TRUE(eventually([&] {
    auto m = parse_metrics(file_);
    return m["pgblit_run_id"] > 0 && m.count("pgblit_phase_duration_seconds{phase=\"load\"}") > 0;
  })) << copy_process.output_so_far();
  auto during = parse_metrics(file_);
  EXPECT_EQ(during["pgblit_run_running"], 1);
  EXPECT_EQ(during.count("pgblit_run_exit_code"), 0u) << "no exit code before the end";
  EXPECT_EQ(during["pgblit_rows_copied_total"], 0) << "the held chunk has not committed";
  open_gate();
  auto done = copy_process.wait();
  ASSERT_EQ(done.exit_code, 0) << done.output;
  auto after = parse_metrics(file_);
  EXPECT_EQ(after["pgblit_run_running"], 0);
  EXPECT_EQ(after["pgblit_rows_copied_total"], 1000);
}

TEST_F(MetricsTest, rows_set_aside_show_as_rejects_and_exit_code_4) {
  source_sql("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 5000) g");
  target_sql("CREATE TABLE t (id int, v int CHECK (v % 1000 <> 0))");  // 5 rows refused
  auto run = copy(args({"--max-rejects", "10", "--progress", "off"}));
  ASSERT_EQ(run.exit_code, 4) << run.output;
  auto m = parse_metrics(file_);
  EXPECT_EQ(m["pgblit_run_exit_code"], 4);
  EXPECT_EQ(m["pgblit_rows_rejected_total"], 5);
  EXPECT_EQ(m["pgblit_rows_copied_total"], std::stod(target_value("SELECT count(*) FROM t")));
}

TEST_F(MetricsTest, a_metrics_file_that_cannot_be_written_stops_the_copy_before_it_starts) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY)");
  source_sql("INSERT INTO t SELECT generate_series(1, 100)");
  auto a = args({"--progress", "off"});
  a[a.size() - 3] = dir_ + "/no-such-folder/pgblit.prom";
  auto run = copy(a);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "no-such-folder/pgblit.prom")) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0") << "no run was recorded";
}

}  // namespace
}  // namespace pgblit::test
