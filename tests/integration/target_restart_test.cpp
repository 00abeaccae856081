// A target server that crashes and comes back mid-run: the run retries its chunks, a
// restore's lanes and the rebuild of deferred objects alike, and completes (or, past
// --retry-timeout, exits cleanly and completes on --resume). These tests restart the shared
// target cluster, so ctest runs them alone (RUN_SERIAL).
#include <chrono>
#include <filesystem>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

using TargetRestartTest = DatabasePair;

// The harness's gate (an advisory lock) held by a session of its own, which only the server's
// stop ends: closing the harness's session before the stop would open the gate too early.
std::unique_ptr<pg::Connection> gate_closed_until_the_stop(const std::string& target_url) {
  auto gate = std::make_unique<pg::Connection>(pg::Connection::open(target_url, "gate"));
  gate->exec("SELECT pg_advisory_lock(424242)");
  return gate;
}

TEST_F(TargetRestartTest, immediate_target_restart_mid_run_is_survived) {
  source_sql("CREATE TABLE big (id bigint PRIMARY KEY, v text);"
             "INSERT INTO big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 100000) g; ANALYZE big");
  target_sql("CREATE TABLE big (id bigint, v text)");
  // 11 MB in 128 kB chunks: about 90, so three done is mid-run.
  PgblitProcess copy(copy_args({"--chunk-size", "128kB", "-j", "2", "--retry-timeout", "120"}));
  // Mid-run: three chunks committed (and the run cannot be over: it has many more).
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" &&
           std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'")) >= 3;
  })) << copy.output_so_far();
  ASSERT_NE(target_value("SELECT count(*) FROM pgblit.chunks WHERE status <> 'done'"), "0") << "the run ended before the crash";
  target_.reset();
  pg_ctl("target", "-m immediate stop");
  // The target comes back once pgblit has met it down and said it retries (a fact, not a pause).
  bool retried = eventually([&] { return copy.output_so_far().find("retrying") != std::string::npos; });
  pg_ctl("target", "start");
  ASSERT_TRUE(retried) << copy.output_so_far();
  auto result = copy.wait();
  target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target"));
  // Ridden out, as docs/runs.md promises: the same run finishes, no resume needed.
  ASSERT_EQ(result.exit_code, 0) << result.output;
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
  auto gate = gate_closed_until_the_stop(target_url());
  PgblitProcess restore(
      {"restore", "--spool", spool.string(), "--target", target_url(), "-j", "2", "--retry-timeout", "120"});
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

// A deferred index held mid-rebuild: its expression's function waits at the gate, so the build
// is in progress when the target goes away (the gate's lock dies with the server).
class RebuildRestartTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql("CREATE TABLE t (id int PRIMARY KEY, v text);"
               "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g; ANALYZE t");
    target_sql(R"(CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE FUNCTION gated(v text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM pg_advisory_lock_shared(424242); PERFORM pg_advisory_unlock_shared(424242); RETURN v; END $$;
CREATE INDEX t_gated ON t (gated(v)))");
  }

  std::string indexes() {
    return target_value("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 't'");
  }
  // A copy whose every chunk is in (the run catalog says so: the table itself is locked by
  // the rebuild) and whose gated index is being built.
  std::unique_ptr<PgblitProcess> a_copy_held_in_the_rebuild(const std::string& retry_timeout) {
    auto copy = std::make_unique<PgblitProcess>(copy_args({"--index-jobs", "2", "--retry-timeout", retry_timeout}));
    EXPECT_TRUE(a_lane_waits_at_the_gate()) << copy->output_so_far();
    EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.chunks WHERE status <> 'done'"), "0") << copy->output_so_far();
    return copy;
  }
  void restart_target(const std::string& how) {
    target_.reset();
    pg_ctl("target", how);
  }
  void reconnect() { target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target")); }
};

// The rebuild of deferred objects follows the run's one retry policy, like the lanes.
TEST_F(RebuildRestartTest, a_rebuild_rides_out_a_target_restart) {
  auto gate = gate_closed_until_the_stop(target_url());
  auto copy = a_copy_held_in_the_rebuild("120");
  ASSERT_FALSE(HasFailure());
  restart_target("-m immediate stop");
  pg_ctl("target", "start");
  auto result = copy->wait();
  reconnect();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(mentions(result, "retrying")) << result.output;
  EXPECT_EQ(indexes(), "t_gated,t_pkey");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'dropped'"), "0");
  expect_same_contents("t");
}

// --retry-timeout bounds the rebuild's wait too (it waited the default 300 s whatever was
// given); what stays dropped is finished by the resume.
TEST_F(RebuildRestartTest, a_rebuild_gives_up_after_the_retry_timeout_and_the_resume_rebuilds) {
  auto gate = gate_closed_until_the_stop(target_url());
  auto copy = a_copy_held_in_the_rebuild("3");
  ASSERT_FALSE(HasFailure());
  restart_target("-m immediate stop");
  auto stopped_at = std::chrono::steady_clock::now();
  auto result = copy->wait();
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  pg_ctl("target", "start");
  reconnect();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_LT(waited, 100) << "the rebuild waited past --retry-timeout 3: " << result.output;
  // Which of the two builds gives up first is the scheduler's: either names itself.
  EXPECT_TRUE(mentions(result, "on \"public\".\"t\" could not be rebuilt")) << result.output;
  EXPECT_NE(target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'dropped'"), "0");
  auto resumed = DatabasePair::copy({"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(indexes(), "t_gated,t_pkey");
  expect_same_contents("t");
}

}  // namespace
}  // namespace pgblit::test
