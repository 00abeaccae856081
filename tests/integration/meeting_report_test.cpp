// The report a DBA brings to the go/no-go meeting, rendered by a real headless Chromium: the
// verdict before anything else, a timeline with a time axis, a row per lane, chunks coloured
// by table and a band per phase, throughput in MB/s, per-table time and verification, the audit
// as rows (not JSON), and summary.txt saying the same in plain text.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <map>
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
  // The page as headless Chromium renders it.
  std::string rendered(const fs::path& html) {
    return shell_output("chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                        "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" +
                        dir_ + "/chromium --dump-dom file://" + html.string() + " 2>/dev/null");
  }
  // The text of the first element with this id (tags stripped).
  static std::string text_of(const std::string& dom, const std::string& id) {
    size_t at = dom.find("id=\"" + id + "\"");
    if (at == std::string::npos) return "";
    at = dom.find('>', at) + 1;
    std::string text = std::regex_replace(dom.substr(at, dom.find("</p>", at) - at), std::regex("<[^>]*>"), "");
    return text;
  }
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
  keep_screenshot(png);
}

// plan measures the estimate and keeps it in the run folder; the copy of the same selection
// that follows records it, and its report sets it beside what happened, phase by phase.
TEST_F(MeetingReportTest, the_copy_after_a_plan_reports_the_estimate_beside_each_phase) {
  std::vector<std::string> common = {"--run-dir", dir_, "--chunk-size", "1MB", "-j", "2"};
  auto other = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "-t", "invoices",
                           "--estimate-seconds", "1", "--run-dir", dir_, "-j", "2"});
  ASSERT_EQ(other.exit_code, 0) << other.output;  // another selection's: not this copy's
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--estimate-seconds", "1",
                          "--run-dir", dir_, "-j", "2", "--chunk-size", "1MB"});
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  ASSERT_TRUE(mentions(plan, "estimate kept in " + dir_ + "/estimates/")) << plan.output;
  auto kept = nlohmann::json::parse(slurp(plan.output.substr(plan.output.find(dir_ + "/estimates/"), dir_.size() + std::string("/estimates/0123456789abcdef.json").size())));
  double estimated = kept["estimate"]["seconds"];
  ASSERT_GT(estimated, 0);

  auto run = copy({"--run-dir", dir_, "--chunk-size", "1MB", "-j", "2", "--progress", "off"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  fs::path folder = fs::path(dir_) / "1";
  auto report = nlohmann::json::parse(slurp(folder / "report.json"));
  const auto& e = report["run"]["estimate"];
  ASSERT_TRUE(e.is_object()) << report["run"].dump(1);
  EXPECT_DOUBLE_EQ(e["seconds"].get<double>(), estimated);  // this selection's, not the other plan's
  for (const char* phase : {"load", "rebuild", "verify", "analyze"}) {
    EXPECT_GT(e["phases"][phase].get<double>(), 0) << phase << ": both tables have a key to rebuild and rows to read";
  }
  // The page: the sentence under the verdict, and each phase's estimated and actual time.
  std::string dom = rendered(folder / "report.html");
  ASSERT_FALSE(dom.empty()) << "headless Chromium rendered nothing";
  std::string sentence = text_of(dom, "estimate");
  EXPECT_NE(sentence.find("The dry run of " + kept["planned_at"].get<std::string>() + " estimated"), std::string::npos) << sentence;
  EXPECT_TRUE(std::regex_search(sentence, std::regex(R"(the run took [0-9.]+ s: [+-][0-9]+% against the estimate)"))) << sentence;
  EXPECT_LT(dom.find("id=\"estimate\""), dom.find("id=\"timeline\""));
  std::regex phase_row(R"re(<tr class="phase-row"><td>(\w+)</td><td class="estimated">([^<]*)</td><td class="actual">([^<]*)</td><td>([^<]*)</td></tr>)re");
  std::map<std::string, std::string> estimated_of, actual_of, difference_of;
  for (std::sregex_iterator it(dom.begin(), dom.end(), phase_row), end; it != end; ++it) {
    estimated_of[(*it)[1]] = (*it)[2];
    actual_of[(*it)[1]] = (*it)[3];
    difference_of[(*it)[1]] = (*it)[4];
  }
  for (const char* phase : {"load", "rebuild", "verify", "analyze"}) {
    EXPECT_TRUE(std::regex_match(estimated_of[phase], std::regex(R"([0-9]+\.[0-9] s)"))) << phase << ": " << estimated_of[phase];
    // A rebuild finished with its table's last chunk has no phase of its own: it was done while loading.
    if (std::string(phase) == "rebuild" && actual_of[phase] == "during the load") continue;
    EXPECT_TRUE(std::regex_match(actual_of[phase], std::regex(R"([0-9]+\.[0-9] s)"))) << phase << ": " << actual_of[phase];
    EXPECT_TRUE(std::regex_match(difference_of[phase], std::regex(R"([+-][0-9]+%)"))) << phase << ": " << difference_of[phase];
  }
  EXPECT_EQ(estimated_of["sequences"], "not estimated");
  EXPECT_TRUE(std::regex_match(actual_of["sequences"], std::regex(R"([0-9]+\.[0-9] s)"))) << actual_of["sequences"];
  EXPECT_EQ(count(dom, "class=\"phase-total\""), 1u);
  // The plain text, and the figures the history reads.
  std::string summary = slurp(folder / "summary.txt");
  EXPECT_NE(summary.find("The dry run of "), std::string::npos) << summary;
  EXPECT_TRUE(std::regex_search(summary, std::regex(R"(Phases: load [0-9.]+ s \(estimated [0-9.]+ s\))"))) << summary;
  auto figures = nlohmann::json::parse(target_value("SELECT options -> 'figures' FROM pgblit.runs WHERE id = 1"));
  double seconds = figures["seconds"];
  EXPECT_NEAR(figures["estimate_error"].get<double>(), (seconds - estimated) / estimated, 1e-9) << figures.dump(1);
}

TEST_F(MeetingReportTest, a_copy_without_a_plan_says_it_has_no_estimate) {
  auto run = copy({"--run-dir", dir_, "--progress", "off"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto report = nlohmann::json::parse(slurp(fs::path(dir_) / "1" / "report.json"));
  EXPECT_TRUE(report["run"]["estimate"].is_null());
  EXPECT_NE(slurp(fs::path(dir_) / "1" / "summary.txt").find("No dry-run estimate to compare with"), std::string::npos);
  EXPECT_EQ(target_value("SELECT options -> 'figures' ? 'estimate_error' FROM pgblit.runs WHERE id = 1"), "f");
}

// The verdict says how much of the window the night used, and flags a night over it.
TEST_F(MeetingReportTest, the_verdict_shows_the_downtime_used_against_the_window) {
  auto within = copy({"--run-dir", dir_, "--progress", "off", "--window", "1h30m"});
  ASSERT_EQ(within.exit_code, 0) << within.output;
  std::string dom = rendered(fs::path(dir_) / "1" / "report.html");
  ASSERT_FALSE(dom.empty()) << "headless Chromium rendered nothing";
  EXPECT_TRUE(std::regex_search(text_of(dom, "window"),
                                std::regex(R"(^Within the window: downtime used [0-9.]+ s of the 1:30:00 window \(0%\))")))
      << text_of(dom, "window");
  EXPECT_NE(dom.find("<span class=\"ok\">done, verified</span>"), std::string::npos);
  EXPECT_EQ(target_value("SELECT (options -> 'figures' ->> 'window_seconds')::float8 FROM pgblit.runs WHERE id = 1"), "5400");

  // The same night given 10 ms: over, in the headline, in red, and in the plain text.
  auto over = copy({"--run-dir", dir_, "--progress", "off", "--window", "0.01s", "--on-existing", "truncate"});
  ASSERT_EQ(over.exit_code, 0) << over.output << " (over the window is the meeting's call, not an error)";
  dom = rendered(fs::path(dir_) / "2" / "report.html");
  EXPECT_NE(dom.find("<span class=\"bad\">done, verified, over the window</span>"), std::string::npos) << dom.substr(0, 3000);
  EXPECT_NE(dom.find("id=\"window\" class=\"bad over-window\""), std::string::npos);
  EXPECT_TRUE(std::regex_search(text_of(dom, "window"), std::regex(R"(^Over the window: downtime used [0-9.]+ s of a 0.0 s window)")))
      << text_of(dom, "window");
  std::string summary = slurp(fs::path(dir_) / "2" / "summary.txt");
  EXPECT_EQ(summary.rfind("pgblit run 2: done, verified, over the window (exit code 0)\n", 0), 0u) << summary;
  // A window that is not a duration is refused before anything connects.
  auto bad = copy({"--window", "2 hours"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(mentions(bad, "not a duration")) << bad.output;
}

}  // namespace
}  // namespace pgblit::test
