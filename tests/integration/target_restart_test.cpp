// A target server that crashes and comes back mid-run: the run retries its chunks and
// completes (or, past --retry-timeout, exits cleanly and completes on --resume). This test
// restarts the shared target cluster, so ctest runs it alone (RUN_SERIAL).
#include <chrono>
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
  for (int i = 0; i < 400; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" &&
        std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'")) >= 3) {
      break;
    }
  }
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

}  // namespace
}  // namespace pgblit::test
