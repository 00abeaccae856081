// copy --fence: while the run copies, a new session's write on the source fails and sessions
// opened before are ended; the fence is lifted at the end, and after a SIGKILL by
// `pgblit unfence`, as the target's catalog recorded it; a role that may not fence is refused
// before anything changes.
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class FenceTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql("CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g");
    target_sql("CREATE TABLE t (id int, v text)");  // no index: nothing deferred, the load is the first lock
  }
  // A write from a session opened now: "" when it worked, else the server's message.
  std::string write_on_source() {
    try {
      auto conn = pg::Connection::open(source_url(), "writer");
      conn.exec("INSERT INTO t VALUES (-1, 'written')");
      conn.exec("DELETE FROM t WHERE id = -1");
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  // Holds the target table against loading (SHARE blocks COPY, not the checks' reads) and
  // waits until the copy's fence is recorded as in place.
  std::unique_ptr<pg::Connection> hold_load_and_wait_for_fence() {
    auto holder = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "holder"));
    holder->exec("BEGIN; LOCK TABLE t IN SHARE MODE");
    // The fence is recorded first, then set (a setting of the source database), then the load
    // waits on our lock: all three facts, not a sleep.
    EXPECT_TRUE(eventually([&] {
      return target_value("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgblit' AND tablename = 'fences'") == "1" &&
             target_value("SELECT count(*) FROM pgblit.fences WHERE lifted_at IS NULL") == "1" &&
             target_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 't'::regclass") != "0" &&
             pg::Connection::open(cluster_url(source_port(), "postgres"), "probe")
                     .exec("SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                           "WHERE d.datname = '" + db_ + "'")
                     .text(0, 0) != "0";
    }));
    source_ = std::make_unique<pg::Connection>(pg::Connection::open(source_url(), "source"));  // ours was ended too
    return holder;
  }
};

TEST_F(FenceTest, writes_fail_during_a_fenced_copy_and_work_again_after_it) {
  auto before = pg::Connection::open(source_url(), "open before");
  ASSERT_EQ(write_on_source(), "");
  PgblitProcess run(copy_args({"--fence"}));
  auto holder = hold_load_and_wait_for_fence();
  EXPECT_NE(write_on_source().find("read-only transaction"), std::string::npos);
  EXPECT_THROW(before.exec("SELECT 1"), Error) << "sessions opened before the fence are ended";
  holder->exec("COMMIT");
  auto result = run.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(write_on_source(), "");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.fences WHERE lifted_at IS NOT NULL"), "1");
  expect_same_contents("t");
}

TEST_F(FenceTest, after_a_sigkill_unfence_lifts_what_the_catalog_recorded) {
  PgblitProcess run(copy_args({"--fence"}));
  auto holder = hold_load_and_wait_for_fence();
  run.kill_now();
  run.wait();
  holder->exec("COMMIT");
  EXPECT_NE(write_on_source().find("read-only transaction"), std::string::npos) << "the fence outlives pgblit";
  auto lifted = run_pgblit({"unfence", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(lifted.exit_code, 0) << lifted.output;
  EXPECT_TRUE(mentions(lifted, "lifted 1 fence")) << lifted.output;
  EXPECT_EQ(write_on_source(), "");
  auto again = run_pgblit({"unfence", "--source", source_url(), "--target", target_url()});
  EXPECT_TRUE(mentions(again, "no fence")) << again.output;
  // Killed before its run was recorded (it waited to load): a new copy does it all.
  auto again_copy = copy();
  EXPECT_EQ(again_copy.exit_code, 0) << again_copy.output;
  expect_same_contents("t");
}

TEST_F(FenceTest, a_role_that_does_not_own_the_database_is_refused_before_anything_changes) {
  source_sql("DROP ROLE IF EXISTS fence_reader; CREATE ROLE fence_reader LOGIN; GRANT SELECT ON t TO fence_reader");
  std::string reader = cluster_url(source_port(), db_);
  reader.replace(reader.find("postgres@"), 9, "fence_reader@");
  auto run = run_pgblit({"copy", "--source", reader, "--target", target_url(), "--fence", "--yes"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "owner")) << run.output;
  EXPECT_EQ(write_on_source(), "");
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");
  source_sql("DROP OWNED BY fence_reader; DROP ROLE fence_reader");
}

}  // namespace
}  // namespace pgblit::test
