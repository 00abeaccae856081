// Exactly-once chunks: a copy killed with SIGKILL at any moment, then resumed, leaves the
// target identical to the source, with no duplicate and no missing row; several workers can
// share one run, and one of them dying costs nothing.
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class ResumeTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    // No primary key on the target: a duplicated row would be loaded, and found below.
    source_sql("CREATE TABLE big (id bigint PRIMARY KEY, v text); CREATE TABLE keyless (at int, v text);"
               "CREATE TABLE small (id int PRIMARY KEY)");
    target_sql("CREATE TABLE big (id bigint, v text); CREATE TABLE keyless (at int, v text); CREATE TABLE small (id int)");
    // 11 MB and 1 MB: in the 128 kB chunks the tests use, about 90 and 7 chunks (kills wait on
    // chunks committed, not on time, so a chunk count is what they need, not bytes).
    source_sql("INSERT INTO big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 100000) g;"
               "INSERT INTO keyless SELECT g, md5(g::text) FROM generate_series(1, 12500) g;"
               "INSERT INTO small SELECT generate_series(1, 10); ANALYZE");
  }

  void expect_identical() {
    expect_same_contents("big");
    expect_same_contents("keyless");
    expect_same_contents("small");
  }
};

TEST_F(ResumeTest, resume_after_sigkill_at_twenty_moments_has_no_duplicates_or_holes) {
  std::vector<std::string> options{"--chunk-size", "128kB", "-j", "2", "--log-level", "warn"};
  auto fresh_or_resume = [&] {  // a new run, or --resume of the one pending
    auto args = copy_args(options);
    bool fresh = target_value("SELECT to_regclass('pgblit.runs') IS NULL") == "t" ||
                 target_value("SELECT count(*) FROM pgblit.runs WHERE status <> 'done'") == "0";
    if (!fresh) args.push_back("--resume");
    return args;
  };
  // Odd attempts are held at a gate and killed there: a lane loading `small` (a fresh run), or
  // any chunk's or the run's catalog update (triggers on pgblit.chunks and pgblit.runs), so those
  // runs cannot finish before their kill. Even attempts are killed just after their 1st, 2nd, 3rd
  // or 4th chunk committed (read from the catalog), or once every chunk is in: those may finish.
  gate_inserts_into("small");
  auto gate_the_catalog = [&] {
    if (target_value("SELECT to_regclass('pgblit.runs') IS NULL") == "t") return;  // fresh: small is still to load
    for (const char* table : {"chunks", "runs"}) {
      target_sql(std::string("CREATE OR REPLACE TRIGGER pgblit_test_gate BEFORE UPDATE ON pgblit.") + table +
                 " FOR EACH ROW EXECUTE FUNCTION public.pgblit_test_gate()");
    }
  };
  auto chunks = [&](const char* which) {  // the run's chunks in the catalog, all or done
    if (target_value("SELECT to_regclass('pgblit.chunks') IS NULL") == "t") return which[0] == 'a' ? 1 << 30 : 0;
    return std::stoi(target_value(std::string("SELECT count(*) FROM pgblit.chunks") +
                                  (which[0] == 'a' ? "" : " WHERE status = 'done'")));
  };
  int kills = 0, gated_kills = 0;
  for (int i = 0; i < 20; ++i) {
    bool gated = i % 2 == 1;
    int done_before = chunks("done");
    if (gated) {
      gate_the_catalog();
      close_gate();
    }
    PgblitProcess copy(fresh_or_resume());
    if (gated) {
      ASSERT_TRUE(a_lane_waits_at_the_gate()) << copy.output_so_far();
    } else {
      int moment = done_before + 1 + (i / 2) % 4;
      ASSERT_TRUE(eventually([&] { return chunks("done") >= std::min(moment, chunks("all")); }))
          << copy.output_so_far();
    }
    copy.kill_now();
    auto result = copy.wait();
    if (gated) {
      open_gate();
      // The killed run's sessions (one may wait at the gate) end before the next attempt.
      ASSERT_TRUE(eventually([&] {
        return target_value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()") == "0";
      }));
      ASSERT_EQ(result.exit_code, 128 + SIGKILL) << result.output;
      ++gated_kills;
    }
    if (result.exit_code == 128 + SIGKILL) {
      ++kills;
    } else {
      ASSERT_EQ(result.exit_code, 0) << result.output;
      expect_identical();  // a run finished before its kill: check it, then start the next one afresh
      target_sql("TRUNCATE big, keyless, small; DROP SCHEMA pgblit CASCADE");
    }
  }
  EXPECT_EQ(gated_kills, 10) << "every gated attempt was killed mid-run";
  EXPECT_GE(kills, gated_kills);
  auto last = run_pgblit(fresh_or_resume());
  ASSERT_EQ(last.exit_code, 0) << last.output;
  expect_identical();
  EXPECT_EQ(target_value("SELECT status FROM pgblit.runs ORDER BY id DESC LIMIT 1"), "done");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.chunks WHERE status <> 'done'"), "0");
}

TEST_F(ResumeTest, three_workers_share_a_run_and_one_killed_costs_nothing) {
  PgblitProcess coordinator(copy_args({"--chunk-size", "128kB", "-j", "1", "--log-level", "warn"}));
  std::string run;
  ASSERT_TRUE(eventually([&] {
    if (target_value("SELECT to_regclass('pgblit.runs') IS NOT NULL") != "t") return false;
    run = target_value("SELECT max(id) FROM pgblit.runs WHERE status = 'running'");
    return !run.empty();
  })) << coordinator.wait().output;
  PgblitProcess doomed(copy_args({"--join", run, "-j", "1", "--log-level", "warn"}));
  PgblitProcess helper(copy_args({"--join", run, "-j", "1", "--log-level", "warn"}));
  // Killed mid-chunk: while one of its lanes holds a chunk (workers are named host:pid).
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pgblit.lanes WHERE chunk IS NOT NULL AND worker LIKE '%:" +
                        std::to_string(doomed.pid()) + "'") != "0";
  })) << doomed.output_so_far();
  doomed.kill_now();
  auto done = coordinator.wait();
  ASSERT_EQ(done.exit_code, 0) << done.output;
  auto helped = helper.wait();
  EXPECT_EQ(helped.exit_code, 0) << helped.output;
  expect_identical();
  EXPECT_GE(std::stoi(target_value("SELECT count(DISTINCT worker) FROM pgblit.chunks")), 2);
}

TEST_F(ResumeTest, resume_refuses_when_the_source_changed_unless_allowed) {
  // Killed while a lane loads `small` (held at a gate): the run is recorded and unfinished.
  gate_inserts_into("small");
  close_gate();
  PgblitProcess first(copy_args({"--chunk-size", "128kB", "-j", "1", "--log-level", "warn"}));
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << first.output_so_far();
  first.kill_now();
  first.wait();
  open_gate();
  source_sql("UPDATE small SET id = id + 100 WHERE id = 1");
  ASSERT_TRUE(eventually([&] {  // the change reaches the statistics asynchronously
    return source_value("SELECT pg_stat_clear_snapshot(); SELECT n_tup_upd FROM pg_stat_user_tables "
                        "WHERE relname = 'small'") != "0";
  }));
  auto refused = copy({"--resume"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("the source changed"), std::string::npos) << refused.output;
  auto allowed = copy({"--resume", "--allow-source-changes"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
  expect_same_contents("big");
}

TEST_F(ResumeTest, a_terminated_source_backend_is_retried) {
  // 1 MB chunks (11): each COPY runs long enough for the poll below to find it.
  PgblitProcess copy(copy_args({"--chunk-size", "1MB", "-j", "1"}));
  ASSERT_TRUE(eventually([&] {
    return source_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND query LIKE 'COPY (SELECT%'") != "0";
  })) << copy.output_so_far();
  auto result = copy.wait();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("retrying"), std::string::npos) << result.output;
  expect_identical();
}

}  // namespace
}  // namespace pgblit::test

namespace pgblit::test {
namespace {

TEST_F(ResumeTest, a_second_coordinator_on_the_same_target_is_refused) {
  // The first run holds once its first chunk is committed, with its coordinator's lock.
  auto first = holding_after(kAfterChunks, 1, copy_args({"--chunk-size", "128kB", "-j", "1", "--log-level", "warn"}));
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" &&
           target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'") == "1";
  })) << first->output_so_far();
  auto second = copy({"--on-existing", "append"});
  EXPECT_EQ(second.exit_code, 2) << second.output;
  EXPECT_NE(second.output.find("another pgblit run is being coordinated"), std::string::npos) << second.output;
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "-t", "small"});
  // Planning only reads: never refused by the coordinator's lock (the dry run may say no-go,
  // exit 5: the target tables fill up under the running copy).
  EXPECT_NE(plan.exit_code, 2) << plan.output;
  EXPECT_EQ(plan.output.find("another pgblit run is being coordinated"), std::string::npos) << plan.output;
  first->kill_now();
  ASSERT_EQ(first->wait().exit_code, 128 + SIGKILL);
  auto resumed = copy({"--resume"});  // the lock died with the first coordinator
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_identical();
}

TEST_F(ResumeTest, clean_drops_a_run_or_the_whole_catalog_and_resume_then_has_nothing_to_do) {
  auto first = copy({"-t", "small"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto nothing = copy({"--resume"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.output;
  EXPECT_NE(nothing.output.find("nothing to resume"), std::string::npos) << nothing.output;
  std::string run = target_value("SELECT max(id) FROM pgblit.runs");
  auto dropped = run_pgblit({"clean", run, "--target", target_url(), "--yes"});
  EXPECT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.chunks"), "0");
  auto all = run_pgblit({"clean", "--all", "--target", target_url(), "--yes"});
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM small"), "10");  // data is not touched
}

}  // namespace
}  // namespace pgblit::test
