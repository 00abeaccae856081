// `pgblit report --history`: five nightly rehearsals of one job file into the same scratch
// target, while one source table grows night after night; the history lays them side by side
// from the run catalog, and names the growing table as the one that moved the window.
#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class HistoryTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    dir_ = "/tmp/pgblit-history-test-" + std::to_string(getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    setenv("PGBLIT_HISTORY_SOURCE", source_url().c_str(), 1);
    setenv("PGBLIT_HISTORY_TARGET", target_url().c_str(), 1);
    both_sql("CREATE TABLE customers (id int PRIMARY KEY, name text); CREATE TABLE events (id int PRIMARY KEY, body text)");
    source_sql("INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
    job_ = dir_ + "/rehearsal.yaml";
    std::ofstream(job_) << "version: 1\n"
                           "source: {env: PGBLIT_HISTORY_SOURCE}\n"
                           "target: {env: PGBLIT_HISTORY_TARGET}\n"
                           "options:\n"
                           "  on-existing: truncate\n"
                           "  chunk-size: 1MB\n"
                           "  jobs: 2\n"
                           "  yes: true\n"
                           "  progress: off\n"
                           "  run-dir: " << dir_ << "/runs\n"
                           "go-no-go:\n"
                           "  estimate-seconds: 1\n"
                           "window: 1h\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, job_;
};

TEST_F(HistoryTest, five_rehearsals_show_side_by_side_and_name_the_growing_table) {
  for (int night = 1; night <= 5; ++night) {
    // events grows by 40,000 rows a night; customers stays.
    source_sql(fmt::format("INSERT INTO events SELECT g, repeat(md5(g::text), 4) FROM generate_series({}, {}) g; ANALYZE",
                           (night - 1) * 40000 + 1, night * 40000));
    // The rehearsal: its dry run (which keeps its estimate in the run folder), then the copy.
    auto plan = run_pgblit({"plan", "--job", job_});
    ASSERT_EQ(plan.exit_code, 0) << "night " << night << "\n" << plan.output;
    auto run = run_pgblit({"copy", "--job", job_});
    ASSERT_EQ(run.exit_code, 0) << "night " << night << "\n" << run.output;
  }
  // A run of another job (no job file) is not among them.
  ASSERT_EQ(copy({"--on-existing", "truncate", "--run-dir", dir_ + "/runs", "--progress", "off"}).exit_code, 0);
  auto json = run_pgblit({"report", "--history", "--job", job_, "--json", "--target", target_url()});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto history = nlohmann::json::parse(json.output.substr(json.output.find('{')));
  ASSERT_EQ(history["runs"].size(), 5u);
  int64_t last_rows = 0;
  for (const auto& r : history["runs"]) {
    EXPECT_EQ(r["exit_code"], 0);
    EXPECT_EQ(r["job"]["file"], job_);
    int64_t rows = r["figures"]["rows"];
    EXPECT_EQ(rows - last_rows, last_rows == 0 ? 45000 : 40000) << r.dump();
    last_rows = rows;
    EXPECT_GT(r["figures"]["phases"]["load"].get<double>(), 0);
    // Each night was estimated by its own dry run, and its error is kept.
    double estimated = r["figures"]["estimate"]["seconds"], took = r["figures"]["seconds"];
    EXPECT_GT(estimated, 0) << r.dump();
    EXPECT_NEAR(r["figures"]["estimate_error"].get<double>(), (took - estimated) / estimated, 1e-9) << r.dump();
    EXPECT_EQ(r["figures"]["window_seconds"], 3600.0);
  }
  // Each night kept its own dry run's estimate, not the first one's: planned night after night.
  // (Not compared by their seconds: measured sample loads on this shared machine blur them.)
  std::string planned;
  for (const auto& r : history["runs"]) {
    std::string at = r["figures"]["estimate"]["planned_at"];
    EXPECT_GE(at, planned) << history.dump(1);
    planned = at;
    EXPECT_GT(r["figures"]["estimate"]["phases"]["load"].get<double>(), 0) << r.dump();
  }
  EXPECT_LT(history["runs"].front()["figures"]["estimate"]["planned_at"].get<std::string>(), planned);
  EXPECT_EQ(history["runs"].back()["figures"]["tables"]["\"public\".\"events\""]["rows"], 200000) << history.dump(1);
  // Between two nights the table that moved the window is judged by time, which this shared
  // machine blurs; over all five (events grew from 40,000 to 200,000 rows) it is certain.
  EXPECT_EQ(history["since_first"]["table"], "\"public\".\"events\"");
  // The page and the text: five runs side by side, the trend chart, the sentence.
  std::string page = dir_ + "/history.html";
  auto text = run_pgblit({"report", "--history", "--job", job_, "-o", page, "--target", target_url()});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_TRUE(mentions(text, "the table that moved it most is \"public\".\"events\"")) << text.output;
  // The page as headless Chromium renders it: five runs side by side with their estimate
  // errors, the trend chart (a bar per run split by phase, the estimate marked on each), and
  // the sentence naming the growing table.
  std::string chromium = "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                         "--disable-background-networking --disable-component-update --disable-sync "
                         "--user-data-dir=" + dir_ + "/chromium ";
  std::string dom = shell_output(chromium + "--dump-dom file://" + page + " 2>/dev/null");
  ASSERT_FALSE(dom.empty()) << "headless Chromium rendered nothing";
  EXPECT_EQ(count(dom, "class=\"run-row\""), 5u);
  std::regex error_cell(R"re(<td class="estimate-error">[+-][0-9]+%</td>)re");
  EXPECT_EQ(std::distance(std::sregex_iterator(dom.begin(), dom.end(), error_cell), std::sregex_iterator()), 5);
  ASSERT_NE(dom.find("<svg id=\"trend\""), std::string::npos);
  std::string trend = dom.substr(dom.find("<svg id=\"trend\""), dom.find("</svg>", dom.find("<svg id=\"trend\"")) - dom.find("<svg id=\"trend\""));
  EXPECT_EQ(count(trend, "class=\"run-label\""), 5u);
  EXPECT_EQ(count(trend, "class=\"estimate-mark\""), 5u);
  EXPECT_GE(count(trend, "class=\"phase\""), 5u * 4) << "load, rebuild, sequences, verify, analyze: a band each";
  size_t since_first = dom.find("id=\"since-first\"");
  ASSERT_NE(since_first, std::string::npos);
  std::string sentence = dom.substr(since_first, dom.find("</p>", since_first) - since_first);
  EXPECT_NE(sentence.find("the table that moved it most is \"public\".\"events\" ("), std::string::npos) << sentence;
  EXPECT_NE(sentence.find("rows 40000 → 200000"), std::string::npos) << sentence;
  std::string png = dir_ + "/history.png";
  shell_output(chromium + "--window-size=1100,800 --screenshot=" + png + " file://" + page + " 2>/dev/null");
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u) << "a screenshot of a rendered page, not a blank one";
  keep_screenshot(png);
}

}  // namespace
}  // namespace pgblit::test
