// Kill and resume of backup and restore at named moments: pgblit is SIGKILLed once exactly k
// chunks are in (PGBLIT_HOLD_AFTER_CHUNKS makes it hold there; the test reads the fact from the
// spool's files or the run catalog, never waits on a clock), then the same command completes
// the work, and the result is compared with the source by query. Restore's chunks go the
// copy's exactly-once path (pgblit.chunks), so the chunks in before the kill are not loaded
// again.
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRestoreChunks =
    "FROM pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore'";

class MoverResumeTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    spool_ = fs::temp_directory_path() / ("pgblit-mover-" + db_);
    fs::remove_all(spool_);
    both_sql(R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric);
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);)");
    source_sql(R"(
INSERT INTO accounts SELECT g, 'account ' || g, g * 1.25 FROM generate_series(1, 60000) g;
INSERT INTO notes SELECT g, g % 1000 + 1, repeat('n', g % 50) FROM generate_series(1, 20000) g;
ANALYZE)");
  }
  void TearDown() override { fs::remove_all(spool_); }

  std::vector<std::string> backup_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"backup", "--source", source_url(), "--spool", spool_.string(), "-n", "public",
                                  "--chunk-size", "512kB", "-j", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::vector<std::string> restore_args() const {
    return {"restore", "--spool", spool_.string(), "--target", target_url(), "-j", "1"};
  }
  size_t chunk_files() const {
    size_t n = 0;
    if (!fs::is_directory(spool_ / "data")) return 0;
    for (const auto& f : fs::directory_iterator(spool_ / "data")) n += f.path().string().ends_with(".copy.zst");
    return n;
  }
  void expect_target_like_source() {
    expect_same_contents("accounts");
    expect_same_contents("notes");
  }

  fs::path spool_;
};

TEST_F(MoverResumeTest, a_backup_killed_after_its_second_chunk_is_completed_by_resume) {
  auto running = holding_after(kAfterChunks, 2, backup_args());
  ASSERT_TRUE(eventually([&] { return chunk_files() == 2; })) << running->output_so_far();
  running->kill_now();
  auto killed = running->wait();
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.output;
  ASSERT_EQ(chunk_files(), 2u);  // it held: nothing more was written

  auto resumed = run_pgblit(backup_args({"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(mentions(resumed, "2 chunk files kept")) << resumed.output;
  EXPECT_GT(chunk_files(), 2u);

  // The completed backup restores to exactly the source's rows.
  auto restored = run_pgblit(restore_args());
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  expect_target_like_source();
}

TEST_F(MoverResumeTest, a_restore_killed_after_its_second_chunk_is_finished_by_running_it_again) {
  auto backup = run_pgblit(backup_args());
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  size_t chunks = chunk_files();
  ASSERT_GE(chunks, 4u) << "the spool must have several chunks to be killed between them";

  auto running = holding_after(kAfterChunks, 2, restore_args());
  // The restore is this database's only run: its chunks alone, one relation locked at a time
  // while the restore creates the catalog and drops the tables' keys.
  std::string done_sql = "SELECT count(*) FROM pgblit.chunks WHERE status = 'done'";
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" && target_value(done_sql) == "2";
  })) << running->output_so_far();
  running->kill_now();
  auto killed = running->wait();
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.output;
  // What is in the tables is exactly the two chunks recorded done: no partial chunk.
  EXPECT_EQ(target_value(done_sql), "2");
  EXPECT_EQ(target_value("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM notes)"),
            target_value(std::string("SELECT sum(c.rows) ") + kRestoreChunks + " AND c.status = 'done'"));

  auto again = run_pgblit(restore_args());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(mentions(again, "2 chunks are in already")) << again.output;
  expect_target_like_source();
  // One run, every chunk done and loaded once: the two before the kill were not loaded again.
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.runs WHERE options ->> 'kind' = 'restore'"), "1");
  EXPECT_EQ(target_value(std::string("SELECT count(*) ") + kRestoreChunks + " AND c.status = 'done' AND c.attempts = 1"),
            std::to_string(chunks));
}

// Restores of earlier pgblit versions recorded their chunks in pgblit.restored_chunks: clean
// --all still drops such a table with the rest of the catalog.
TEST_F(MoverResumeTest, clean_drops_the_restored_chunks_table_of_an_older_pgblit) {
  ASSERT_EQ(run_pgblit(backup_args()).exit_code, 0);
  ASSERT_EQ(run_pgblit(restore_args()).exit_code, 0);
  EXPECT_EQ(target_value("SELECT to_regclass('pgblit.restored_chunks') IS NULL"), "t");  // no longer made
  target_sql(R"(CREATE TABLE pgblit.restored_chunks (spool_id text, chunk int, rows bigint,
  restored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (spool_id, chunk));
COMMENT ON TABLE pgblit.restored_chunks IS 'pgblit run catalog: made by pgblit, dropped by pgblit clean --all')");
  auto cleaned = run_pgblit({"clean", "--all", "--target", target_url(), "--yes"});
  ASSERT_EQ(cleaned.exit_code, 0) << cleaned.output;
  EXPECT_EQ(target_value("SELECT to_regclass('pgblit.restored_chunks') IS NULL"), "t");
  EXPECT_EQ(target_value("SELECT count(*) FROM accounts"), "60000");
}

}  // namespace
}  // namespace pgblit::test
