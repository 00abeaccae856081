// The report a DBA brings to the go/no-go meeting, rendered by a real headless Chromium: the
// verdict before anything else, a timeline with a time axis, a row per lane, chunks coloured
// by table and a band per phase, throughput in MB/s, per-table time and verification, the audit
// as rows (not JSON), and summary.txt saying the same in plain text.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class MeetingReportTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    dir_ = "/tmp/pgblit-meeting-report-test-" + std::to_string(getpid());
    fs::remove_all(dir_);
    both_sql("CREATE TABLE invoices (id int PRIMARY KEY, v text); CREATE TABLE customers (id int PRIMARY KEY, v text)");
    source_sql("INSERT INTO invoices SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g;"
               "INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(1, 20000) g; ANALYZE");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MeetingReportTest, the_report_answers_go_or_no_go_and_where_the_time_went) {
  auto run = copy({"--run-dir", dir_, "--chunk-size", "1MB", "-j", "2", "--progress", "off"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  fs::path folder = fs::path(dir_) / "1";
  auto report = nlohmann::json::parse(slurp(folder / "report.json"));
  std::string chromium = "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                         "--disable-background-networking --disable-component-update --disable-sync "
                         "--user-data-dir=" + dir_ + "/chromium ";
  std::string dom = shell_output(chromium + "--dump-dom file://" + (folder / "report.html").string() + " 2>/dev/null");
  ASSERT_FALSE(dom.empty()) << "headless Chromium rendered nothing";
  // The verdict comes first, with the exit code.
  ASSERT_NE(dom.find("id=\"verdict\""), std::string::npos);
  EXPECT_LT(dom.find("id=\"verdict\""), dom.find("id=\"timeline\""));
  EXPECT_NE(dom.find("done, verified"), std::string::npos);
  EXPECT_NE(dom.find("Exit code 0"), std::string::npos);
  // A row per lane, a band per phase, a time axis starting at 0.
  EXPECT_EQ(count(dom, "class=\"lane-label\""), 2u);
  EXPECT_EQ(count(dom, "class=\"phase-label\""), report["phases"].size());
  for (const char* phase : {">load<", ">rebuild<", ">verify<", ">analyze<"}) {
    EXPECT_NE(dom.find(phase), std::string::npos) << phase;
  }
  EXPECT_GE(count(dom, "class=\"tick\""), 3u);
  EXPECT_NE(dom.find(">0.0 s</text>"), std::string::npos);
  // Chunks coloured by table: the two tables' chunks have two colours, both in the legend.
  std::set<std::string> fills;
  std::regex chunk_fill(R"re(class="chunk"[^>]* fill="(#[0-9a-f]{6})")re");
  for (std::sregex_iterator it(dom.begin(), dom.end(), chunk_fill), end; it != end; ++it) fills.insert((*it)[1]);
  EXPECT_EQ(fills.size(), 2u);
  EXPECT_EQ(std::to_string(count(dom, "class=\"chunk\"")), target_value("SELECT count(*) FROM pgblit.chunks"));
  EXPECT_EQ(count(dom, "class=\"legend\""), 2u);
  // Throughput with its unit; per-table time and verification; the audit as rows.
  EXPECT_NE(dom.find(" MB/s</text>"), std::string::npos);
  EXPECT_EQ(count(dom, "class=\"table-row\""), 2u);
  EXPECT_EQ(count(dom, "matches the source"), 2u);
  EXPECT_NE(dom.find("<th>source.server</th>"), std::string::npos);
  EXPECT_EQ(dom.find("{&quot;"), std::string::npos) << "no raw JSON in the audit";
  // The same in plain text.
  std::string summary = slurp(folder / "summary.txt");
  EXPECT_EQ(summary.rfind("pgblit run 1: done, verified (exit code 0)\n", 0), 0u) << summary;
  EXPECT_NE(summary.find("80000 rows"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"public\".\"invoices\"  60000 rows"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Phases: load "), std::string::npos) << summary;
  std::string png = dir_ + "/report.png";
  shell_output(chromium + "--window-size=1100,1000 --screenshot=" + png + " file://" + (folder / "report.html").string() +
               " 2>/dev/null");
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u) << "a screenshot of a rendered page, not a blank one";
}

}  // namespace
}  // namespace pgblit::test
