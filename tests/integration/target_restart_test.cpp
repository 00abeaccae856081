// A target server that crashes and comes back mid-run: the run retries its chunks and
// completes (or, past --retry-timeout, exits cleanly and completes on --resume). This test
// restarts the shared target cluster, so ctest runs it alone (RUN_SERIAL).
#include <chrono>
#include <filesystem>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

using TargetRestartTest = DatabasePair;

TEST_F(TargetRestartTest, immediate_target_restart_mid_run_is_survived) {
  source_sql("CREATE TABLE big (id bigint PRIMARY KEY, v text);"
             "INSERT INTO big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 600000) g; ANALYZE big");
  target_sql("CREATE TABLE big (id bigint, v text)");
  PgblitProcess copy(copy_args({"--chunk-size", "1MB", "-j", "2", "--retry-timeout", "120"}));
  // Mid-run: three chunks committed (and the run cannot be over: it has many more).
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" &&
           std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'")) >= 3;
  })) << copy.output_so_far();
  ASSERT_NE(target_value("SELECT count(*) FROM pgblit.chunks WHERE status <> 'done'"), "0") << "the run ended before the crash";
  target_.reset();
  pg_ctl("target", "-m immediate stop");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  pg_ctl("target", "start");
  auto result = copy.wait();
  target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target"));
  if (result.exit_code != 0) {  // past the retry timeout: the run must complete on resume
    auto resumed = this->copy({"--resume"});
    ASSERT_EQ(resumed.exit_code, 0) << result.output << resumed.output;
  } else {
    EXPECT_NE(result.output.find("retrying"), std::string::npos) << result.output;
  }
  expect_same_contents("big");
}

// A restore's lanes retry through a target restart like copy's: held at a gate mid-chunk (the
// gate's lock dies with the server), the target restarts, and every chunk is in exactly once.
TEST_F(TargetRestartTest, a_restore_rides_out_a_target_restart) {
  source_sql("CREATE TABLE big (id bigint PRIMARY KEY, v text);"
             "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g; ANALYZE big");
  target_sql("CREATE TABLE big (id bigint PRIMARY KEY, v text)");
  auto spool = std::filesystem::temp_directory_path() / ("pgblit-restart-spool-" + db_);
  std::filesystem::remove_all(spool);
  ASSERT_EQ(copy({"--spool", spool.string(), "--chunk-size", "1MB"}).exit_code, 0);
  target_sql("TRUNCATE big; DROP SCHEMA pgblit CASCADE");
  gate_inserts_into("big");
  close_gate();
  PgblitProcess restore({"restore", "--spool", spool.string(), "--target", target_url(), "-j", "2"});
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << restore.output_so_far();
  target_.reset();
  pg_ctl("target", "-m immediate stop");
  pg_ctl("target", "start");
  auto result = restore.wait();
  target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("retrying"), std::string::npos) << result.output;
  expect_same_contents("big");
  std::filesystem::remove_all(spool);
}

}  // namespace
}  // namespace pgblit::test
