// What a run shows and leaves: progress on a terminal and in a pipe, the run folder (log,
// events, reports) agreeing with the run catalog, `pgblit status` from another process, the
// HTML report rendered by a real headless Chromium, and no password anywhere.
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class ReportTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    both_sql("CREATE TABLE big (id int PRIMARY KEY, v text); CREATE TABLE small (id int PRIMARY KEY, v text)");
    source_sql("INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g;"
               "INSERT INTO small SELECT g, 'x' FROM generate_series(1, 1000) g; ANALYZE");
    dir_ = "/tmp/pgblit-report-test-" + std::to_string(getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"--run-dir", dir_, "--chunk-size", "1MB", "--yes"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::string dir_;
};

TEST_F(ReportTest, the_run_folder_and_its_reports_agree_with_the_catalog) {
  auto run = copy(args({"--progress", "log", "--progress-interval", "0.5"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  fs::path folder = fs::path(dir_) / "1";
  for (const char* file : {"pgblit.log", "events.jsonl", "report.json", "report.html"}) {
    EXPECT_TRUE(fs::exists(folder / file)) << file << "\n" << run.output;
  }
  EXPECT_NE(run.output.find("report: " + (folder / "report.html").string()), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find('\033'), std::string::npos) << "no escape codes when stderr is not a terminal";
  auto report = nlohmann::json::parse(slurp(folder / "report.json"));
  int64_t rows = 0, bytes = 0;
  for (const auto& t : report["tables"]) {
    rows += t["rows"].get<int64_t>();
    bytes += t["bytes"].get<int64_t>();
  }
  EXPECT_EQ(std::to_string(rows), target_value("SELECT sum(rows) FROM pgblit.chunks"));
  EXPECT_EQ(std::to_string(bytes), target_value("SELECT sum(bytes) FROM pgblit.chunks"));
  EXPECT_EQ(std::to_string(report["chunks"].size()), target_value("SELECT count(*) FROM pgblit.chunks"));
  EXPECT_EQ(report["finished"]["exit_code"], 0);
  EXPECT_EQ(report["run"]["audit"]["pgblit_version"], PGBLIT_VERSION_FOR_TESTS);
  std::string events = slurp(folder / "events.jsonl");
  EXPECT_EQ(count(events, "\"event\":\"chunk_finished\""), report["chunks"].size());
  EXPECT_EQ(count(events, "\"event\":\"run_started\""), 1u);
  EXPECT_EQ(count(events, "\"event\":\"run_finished\""), 1u);
  std::string log = slurp(folder / "pgblit.log");
  EXPECT_NE(log.find("source postgresql://"), std::string::npos) << "the log starts with the run's first line";
  EXPECT_NE(log.find("done: run 1"), std::string::npos) << log;
  // pgblit status agrees too.
  auto status = run_pgblit({"status", "--target", target_url(), "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  auto s = nlohmann::json::parse(status.output.substr(status.output.find('{')));
  EXPECT_EQ(s["status"], "done");
  EXPECT_EQ(s["rows"].get<int64_t>(), rows);
  EXPECT_EQ(s["bytes"].get<int64_t>(), bytes);
  EXPECT_EQ(s["chunks_done"], s["chunks"]);
  // The phases are in the run's record, and its report can be drawn again from the catalog alone.
  std::string phases = target_value("SELECT phases::text FROM pgblit.runs");
  for (const char* phase : {"load", "verify", "sequences", "analyze"}) {
    EXPECT_NE(phases.find(std::string("\"") + phase + "\""), std::string::npos) << phases;
  }
  std::string from_catalog = dir_ + "/from-catalog.html";
  auto again = run_pgblit({"report", "1", "--target", target_url(), "-o", from_catalog});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  std::string html = slurp(from_catalog);
  EXPECT_EQ(std::to_string(count(html, "class=\"chunk\"")), target_value("SELECT count(*) FROM pgblit.chunks"));
  EXPECT_EQ(count(html, "class=\"table-row\""), 2u);
}

TEST_F(ReportTest, a_terminal_gets_a_bar_redrawn_in_place) {
  // `script` gives pgblit a pseudo-terminal for stderr; a slow trigger keeps the bar up a while.
  target_sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.003); RETURN NEW; "
             "END $$; CREATE TRIGGER slow BEFORE INSERT ON small FOR EACH ROW EXECUTE FUNCTION slow()");
  std::string command = std::string(PGBLIT_BINARY) + " copy --source " + source_url() + " --target " + target_url() +
                        " --run-dir " + dir_ + " --yes --indexes keep";
  std::string out = shell_output("script -qfec '" + command + "' /dev/null 2>&1");
  EXPECT_NE(out.find("\033[J"), std::string::npos) << "the bar is cleared and drawn again: " << out;
  EXPECT_NE(out.find("] "), std::string::npos) << out;
  EXPECT_NE(out.find("  lane "), std::string::npos) << "a line per active lane: " << out;
  EXPECT_NE(out.find("done: run 1"), std::string::npos) << out;
  // The target's own progress view, under the lanes.
  EXPECT_NE(out.find("target: COPY into small"), std::string::npos) << out;
}

TEST_F(ReportTest, status_from_another_process_sees_chunks_move_and_a_killed_worker_dead) {
  target_sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; "
             "END $$; CREATE TRIGGER slow BEFORE INSERT ON small FOR EACH ROW EXECUTE FUNCTION slow()");
  PgblitProcess copy(copy_args(args({"-j", "1", "--indexes", "keep", "--progress", "off"})));
  nlohmann::json seen;
  ASSERT_TRUE(eventually([&] {  // a chunk done and a lane on the next one
    auto status = run_pgblit({"status", "--target", target_url(), "--json"});
    if (status.exit_code != 0) return false;
    seen = nlohmann::json::parse(status.output.substr(status.output.find('{')));
    bool busy = false;
    for (const auto& l : seen["lanes"]) busy |= !l["chunk"].is_null();
    return seen["chunks_done"].get<int>() >= 1 && busy;
  })) << seen.dump();
  ASSERT_FALSE(seen.is_null());
  EXPECT_EQ(seen["status"], "running") << seen.dump();
  EXPECT_TRUE(seen["alive"].get<bool>()) << seen.dump();
  EXPECT_GE(seen["chunks_done"].get<int>(), 1) << seen.dump();
  copy.kill_now();
  copy.wait();
  RunResult after;
  ASSERT_TRUE(eventually([&] {  // once the server notices the closed session
    after = run_pgblit({"status", "--target", target_url()});
    return after.exit_code == 0 && after.output.find("no process works on it (dead: resume it)") != std::string::npos;
  })) << after.output;
  EXPECT_NE(after.output.find("(worker dead)"), std::string::npos) << after.output;
}

TEST_F(ReportTest, the_html_report_renders_in_headless_chromium_with_a_bar_per_chunk) {
  ASSERT_EQ(copy(args({"--progress", "off"})).exit_code, 0);
  fs::path html = fs::path(dir_) / "1" / "report.html";
  ASSERT_TRUE(fs::exists(html));
  std::string chromium = "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                         "--disable-background-networking --disable-component-update --disable-sync "
                         "--user-data-dir=" + dir_ + "/chromium ";
  std::string dom = shell_output(chromium + "--dump-dom file://" + html.string() + " 2>/dev/null");
  ASSERT_FALSE(dom.empty()) << "headless Chromium rendered nothing (is the chromium package installed?)";
  EXPECT_EQ(std::to_string(count(dom, "class=\"chunk\"")), target_value("SELECT count(*) FROM pgblit.chunks"));
  EXPECT_EQ(count(dom, "class=\"table-row\""), 2u);
  EXPECT_NE(dom.find("done, verified"), std::string::npos);
  std::string png = dir_ + "/report.png";
  shell_output(chromium + "--window-size=1000,900 --screenshot=" + png + " file://" + html.string() + " 2>/dev/null");
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 10000u) << "a screenshot of a rendered page, not a blank one";
}

TEST_F(ReportTest, no_password_reaches_output_log_events_reports_catalog_or_application_name) {
  std::string uri_password = "Uri-Secret-4711", kv_password = "Kv-Secret-0815";
  std::string source = "postgresql://postgres:" + uri_password + "@127.0.0.1:" + std::to_string(source_port()) + "/" + db_;
  std::string target = "host=127.0.0.1 port=" + std::to_string(target_port()) + " dbname=" + db_ +
                       " user=postgres password=" + kv_password;
  target_sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; "
             "END $$; CREATE TRIGGER slow BEFORE INSERT ON small FOR EACH ROW EXECUTE FUNCTION slow()");
  std::vector<std::string> a{"copy", "--source", source, "--target", target, "--log-level", "debug"};
  auto more = args({"--progress", "json", "--indexes", "keep"});
  a.insert(a.end(), more.begin(), more.end());
  PgblitProcess copy(a);
  std::string names;
  for (int i = 0; i < 40; ++i) {  // while it runs, what its sessions call themselves
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    names += target_value("SELECT string_agg(application_name, ',') FROM pg_stat_activity") + ";";
  }
  auto run = copy.wait();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(names.find("pgblit"), std::string::npos) << names;
  fs::path folder = fs::path(dir_) / "1";
  std::vector<std::pair<std::string, std::string>> places{
      {"output", run.output},
      {"pgblit.log", slurp(folder / "pgblit.log")},
      {"events.jsonl", slurp(folder / "events.jsonl")},
      {"report.json", slurp(folder / "report.json")},
      {"report.html", slurp(folder / "report.html")},
      {"catalog", target_value("SELECT string_agg(options::text || plan::text, '') FROM pgblit.runs")},
      {"application_name", names}};
  for (const auto& [place, text] : places) {
    EXPECT_FALSE(text.empty()) << place;
    for (const auto& secret : {uri_password, kv_password}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << place;
    }
  }
  EXPECT_NE(places[2].second.find("********"), std::string::npos) << "the command line is kept, password replaced";
}

TEST_F(ReportTest, names_with_control_characters_are_printed_escaped_and_forge_no_line) {
  both_sql("CREATE TABLE \"multi\nline\" (id int PRIMARY KEY); CREATE TABLE \"bell\x07\" (id int)");
  source_sql("INSERT INTO \"multi\nline\" SELECT generate_series(1, 10); INSERT INTO \"bell\x07\" VALUES (1)");
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "-T", "big", "-T", "small"});
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("\"public\".\"multi\\nline\""), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("\"public\".\"bell\\x07\""), std::string::npos) << plan.output;
  for (size_t at = plan.output.find('\n'); at != std::string::npos; at = plan.output.find('\n', at + 1)) {
    EXPECT_NE(plan.output.compare(at + 1, 5, "line\""), 0) << "a name broke a line: " << plan.output;
  }
  auto run = copy(args({"-T", "big", "-T", "small", "--progress", "off"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("copied \"public\".\"multi\\nline\""), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find('\x07'), std::string::npos) << run.output;
  expect_same_contents("\"multi\nline\"");
}

TEST_F(ReportTest, on_event_hooks_get_each_phase_and_a_hook_that_hangs_or_fails_never_stops_the_run) {
  fs::create_directories(dir_);
  std::string file = dir_ + "/hook.txt";
  std::string hook = "echo \"$PGBLIT_EVENT $PGBLIT_PHASE $PGBLIT_RUN_ID $PGBLIT_EXIT_CODE\" >> " + file +
                     "; cat >> " + file + ".json";
  auto run = copy(args({"--on-event", hook, "--progress", "off"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string seen = slurp(file);
  EXPECT_NE(seen.find("run_started  1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("phase load 1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("phase verify 1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("run_finished done 1 0"), std::string::npos) << seen;
  EXPECT_NE(slurp(file + ".json").find("\"event\":\"run_finished\""), std::string::npos);

  target_sql("TRUNCATE big, small; DROP SCHEMA pgblit CASCADE");
  auto started = std::chrono::steady_clock::now();
  auto slow = copy(args({"--on-event", "sleep 30; exit 3", "--on-event-timeout", "0.3", "--progress", "off"}));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(slow.exit_code, 0) << slow.output;
  EXPECT_NE(slow.output.find("ran longer than 0 s and was stopped"), std::string::npos) << slow.output;
  EXPECT_LT(seconds, 20) << "hung hooks are stopped, not waited for";
  auto failing = run_pgblit({"copy", "--source", source_url(), "--target", target_url(), "--run-dir", dir_,
                             "--on-event", "exit 7", "--yes", "--on-existing", "truncate", "--progress", "off"});
  EXPECT_EQ(failing.exit_code, 0) << failing.output;
  EXPECT_NE(failing.output.find("failed (exit 7); the run goes on"), std::string::npos) << failing.output;
  expect_same_contents("big");
}

}  // namespace
}  // namespace pgblit::test
