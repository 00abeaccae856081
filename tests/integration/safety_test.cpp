// The five ways a mistaken command used to lose data, claim a verification it did not do, or
// leak a password, each pinned down against real clusters. (Each of these failed before the
// fix: clean dropped data schemas, a same-database truncate emptied the source, a resumed
// finished run set sequences back, a rejects folder that could not be written lost rows,
// and libpq's parse errors printed passwords.)
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

using SafetyTest = DatabasePair;

TEST_F(SafetyTest, clean_drops_only_pgblits_own_tables_and_never_a_live_run) {
  both_sql("CREATE TABLE t (id int)");
  source_sql("INSERT INTO t SELECT generate_series(1, 20)");
  // A catalog in a schema the DBA made, beside a table of theirs: its tables go, the schema stays.
  target_sql("CREATE SCHEMA ops; CREATE TABLE ops.notes (x int); INSERT INTO ops.notes VALUES (1)");
  ASSERT_EQ(copy({"--catalog-schema", "ops"}).exit_code, 0);
  auto dropped = run_pgblit({"clean", "--all", "--catalog-schema", "ops", "--target", target_url(), "--yes"});
  EXPECT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_TRUE(mentions(dropped, "dropped 1 runs and the catalog tables \"ops\".\"catalog_info\", \"ops\".\"objects\", \"ops\".\"lanes\", "
                                "\"ops\".\"chunks\", \"ops\".\"key_map\", \"ops\".\"runs\""))
      << dropped.output;
  EXPECT_TRUE(mentions(dropped, "kept the schema ops: pgblit did not create it")) << dropped.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM ops.notes"), "1");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_class WHERE relnamespace = 'ops'::regnamespace AND relkind = 'r'"), "1");

  // A live run is never pulled from under its process: a slow trigger keeps it running.
  target_sql("TRUNCATE t; CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); "
             "RETURN NEW; END $$; CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow()");
  PgblitProcess running(copy_args({"--log-level", "warn"}));
  // Running: its run recorded and a lane in the slow trigger.
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event = 'PgSleep'") != "0";
  })) << running.output_so_far();
  ASSERT_EQ(target_value("SELECT count(*) FROM pgblit.runs WHERE status = 'running'"), "1");
  std::string run = target_value("SELECT max(id) FROM pgblit.runs");
  auto refused = run_pgblit({"clean", run, "--target", target_url(), "--yes"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "is in progress")) << refused.output;
  auto refused_all = run_pgblit({"clean", "--all", "--target", target_url(), "--yes"});
  EXPECT_EQ(refused_all.exit_code, 2) << refused_all.output;
  auto done = running.wait();
  ASSERT_EQ(done.exit_code, 0) << done.output;
  expect_same_contents("t");

  // Once it is over, the catalog pgblit created goes whole, with its schema.
  auto all = run_pgblit({"clean", "--all", "--target", target_url(), "--yes"});
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_TRUE(mentions(all, "dropped the schema pgblit, which pgblit had created")) << all.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
  expect_same_contents("t");
}

TEST_F(SafetyTest, same_database_under_another_connection_string_is_refused_and_the_source_keeps_its_rows) {
  source_sql("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)");
  std::string same = "host=127.0.0.1 port=" + std::to_string(source_port()) + " dbname=" + db_ + " user=postgres";
  auto run = run_pgblit({"copy", "--source", source_url(), "--target", same, "--on-existing", "truncate", "--yes"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "the source and the target are the same database")) << run.output;
  EXPECT_FALSE(mentions(run, "--on-existing truncate")) << "never suggest emptying the source: " << run.output;
  EXPECT_EQ(source_value("SELECT count(*) FROM t"), "1000");
  EXPECT_EQ(source_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

TEST_F(SafetyTest, a_continued_run_never_moves_a_sequence_back) {
  source_sql("CREATE TABLE t (id serial PRIMARY KEY, v int); INSERT INTO t (v) SELECT generate_series(1, 5000)");
  target_sql("CREATE TABLE t (id serial PRIMARY KEY, v int CHECK (v <> 4000))");
  auto failed = copy({"--yes"});
  ASSERT_EQ(failed.exit_code, 1) << failed.output;
  // The application meanwhile inserted on the target and moved its sequence far ahead.
  target_sql("ALTER TABLE t DROP CONSTRAINT t_v_check; SELECT setval('t_id_seq', 100000)");
  auto resumed = copy({"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_contents("t");
  EXPECT_EQ(target_value("SELECT last_value FROM t_id_seq"), "100000");
  // A finished run is not run again, so it cannot set the sequence back either.
  auto again = copy({"--resume", target_value("SELECT max(id) FROM pgblit.runs")});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_TRUE(mentions(again, "nothing to resume")) << again.output;
  EXPECT_FALSE(mentions(again, "verified")) << again.output;
  EXPECT_EQ(target_value("SELECT last_value FROM t_id_seq"), "100000");
}

TEST_F(SafetyTest, every_committed_chunks_rejects_are_on_disk_with_its_count) {
  source_sql("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 200000) g");
  target_sql("CREATE TABLE t (id int, v int CHECK (v % 1000 <> 0))");
  std::string dir = "/tmp/pgblit-safety-rejects-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  auto run = copy({"--max-rejects", "500", "--rejects-dir", dir, "--chunk-size", "1MB", "--yes"});
  ASSERT_EQ(run.exit_code, 4) << run.output;
  auto chunks = target_sql("SELECT chunk, rejected FROM pgblit.chunks WHERE status = 'done' AND rejected > 0");
  ASSERT_GT(chunks.rows(), 1);
  int64_t total = 0;
  for (int i = 0; i < chunks.rows(); ++i) {
    std::ifstream file(dir + "/_public_._t_.chunk-" + chunks.text(i, 0) + ".rejects");
    ASSERT_TRUE(file.good()) << "no rejects file for committed chunk " << chunks.text(i, 0);
    int64_t rows = 0;
    for (std::string line; std::getline(file, line);) rows += line.rfind("-- ", 0) != 0;
    EXPECT_EQ(rows, chunks.int64(i, 1)) << "chunk " << chunks.text(i, 0);
    total += rows;
  }
  EXPECT_EQ(total, 200);
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "199800");
  std::filesystem::remove_all(dir);
}

TEST_F(SafetyTest, passwords_in_unparsable_connection_strings_reach_neither_output_nor_log_file) {
  std::string log = "/tmp/pgblit-safety-" + std::to_string(getpid()) + ".log";
  for (std::string bad : {"postgresql://app:Hunter%zzQx9@127.0.0.1/db", "postgresql://app:Hunter%00Qx9@127.0.0.1/db",
                          "postgresql://app:HunterQx9@[::1/db", "host=127.0.0.1 password=Hunter Qx9",
                          "host=127.0.0.1 password='HunterQx9"}) {
    std::remove(log.c_str());
    auto run = run_pgblit({"copy", "--source", bad, "--target", target_url(), "--log-file", log, "--log-level", "debug"});
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_TRUE(mentions(run, "source connection string is not valid")) << run.output;
    std::string logged = slurp(log);
    EXPECT_TRUE(logged.find("not valid") != std::string::npos) << "the log holds the error too";
    for (const char* part : {"Hunter", "Qx9"}) {
      EXPECT_FALSE(mentions(run, part)) << bad << " leaked in the output: " << run.output;
      EXPECT_EQ(logged.find(part), std::string::npos) << bad << " leaked in the log: " << logged;
    }
  }
  std::remove(log.c_str());
}

TEST_F(SafetyTest, a_lock_wait_says_who_holds_the_table_and_the_first_ctrl_c_ends_it) {
  both_sql("CREATE TABLE t (id int)");
  source_sql("INSERT INTO t SELECT generate_series(1, 100)");
  auto holder = pg::Connection::open(target_url(), "holder");
  holder.exec("SET application_name = 'nightly report'; BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
  PgblitProcess copy(copy_args({"--yes"}));
  std::string said;
  ASSERT_TRUE(eventually([&] {
    said = copy.output_so_far();
    return said.find("held by pid") != std::string::npos;
  })) << said;
  EXPECT_NE(said.find("for a lock on"), std::string::npos) << said;
  EXPECT_NE(said.find("application nightly report"), std::string::npos) << said;
  auto interrupted_at = std::chrono::steady_clock::now();
  copy.interrupt();
  auto result = copy.wait();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - interrupted_at).count();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_LT(seconds, 3.0) << "the first Ctrl-C must end the wait";
  holder.exec("ROLLBACK");
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");
}

}  // namespace
}  // namespace pgblit::test
