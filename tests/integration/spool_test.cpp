// The spool: copy --spool writes each chunk's stream as a zstd file by the same read, with a
// manifest; restore loads it into another database, exactly once and resumably, checking each
// chunk against its manifest digest; a damaged file is named and none of its chunk commits;
// spools are listed and expire. Every check reads the real servers and files.
#include <sys/mount.h>
#include <sys/stat.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    spool_ = fs::temp_directory_path() / ("pgblit-spool-" + db_);
    fs::remove_all(spool_);
    third_ = db_ + "_third";
    auto admin = pg::Connection::open(cluster_url(target_port(), "postgres"), "admin");
    admin.exec("DROP DATABASE IF EXISTS \"" + third_ + "\" WITH (FORCE)");
    admin.exec("CREATE DATABASE \"" + third_ + "\"");
    third_conn_ = std::make_unique<pg::Connection>(pg::Connection::open(third_url(), "third"));
    // accounts: 3.5 MB, some 14 chunks of 256 kB.
    source_sql(R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric, opened timestamptz, tags text[]);
INSERT INTO accounts SELECT g, 'account ' || g, g * 1.25, '2020-01-01'::timestamptz + g * interval '1 minute',
                            ARRAY['t' || g % 7] FROM generate_series(1, 40000) g;
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);
INSERT INTO notes SELECT g, g % 1000 + 1, repeat('n', g % 50) FROM generate_series(1, 20000) g;
ANALYZE)");
    schema_ = R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric, opened timestamptz, tags text[]);
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);)";
    target_sql(schema_);
    third_conn_->exec(schema_);
  }
  void TearDown() override { fs::remove_all(spool_); }

  std::string third_url() const { return cluster_url(target_port(), third_); }
  static std::string constraints_sql() {
    return "SELECT count(*) FROM pg_constraint WHERE conrelid IN ('accounts'::regclass, 'notes'::regclass) "
           "AND contype IN ('p', 'f') AND convalidated";
  }
  RunResult copy_spooled(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--spool", spool_.string(), "--chunk-size", "256kB"};
    args.insert(args.end(), extra.begin(), extra.end());
    return copy(args);
  }
  RunResult restore(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"restore", "--spool", spool_.string(), "--target", third_url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pgblit(args);
  }
  nlohmann::json manifest() {
    std::ifstream in(spool_ / "manifest.json");
    return nlohmann::json::parse(in);
  }
  void expect_third_like_source(const std::string& table) {
    EXPECT_EQ(contents(*third_conn_, table), contents(*source_, table)) << table;
  }

  fs::path spool_;
  std::string third_, schema_;
  std::unique_ptr<pg::Connection> third_conn_;
};

TEST_F(SpoolTest, a_spooled_copy_restores_into_a_third_database_identical_to_the_source) {
  auto run = copy_spooled();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto m = manifest();
  EXPECT_EQ(m["format"], "pgblit-spool");
  EXPECT_EQ(m["version"], 2);
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_GT(m["chunks"].size(), 4u) << "256kB chunks";
  int64_t rows = 0;
  for (const auto& c : m["chunks"]) {
    rows += c["rows"].get<int64_t>();
    EXPECT_TRUE(fs::exists(spool_ / c["file"].get<std::string>()));
    EXPECT_LT(c["compressed_bytes"].get<int64_t>(), c["raw_bytes"].get<int64_t>());
  }
  EXPECT_EQ(rows, 60000);  // accounts and notes
  EXPECT_EQ(m["source"].get<std::string>().find("password"), std::string::npos);
  auto restored = restore({"-j", "2"});
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_TRUE(mentions(restored, "deferred 3 indexes and constraints")) << restored.output;
  EXPECT_EQ(third_conn_->exec(constraints_sql()).text(0, 0), "3") << "both keys and the foreign key are back";
  expect_third_like_source("accounts");
  expect_third_like_source("notes");
  // The third database against the spool, no source needed; a changed row is found.
  auto checked = run_pgblit({"verify", "--spool", spool_.string(), "--target", third_url()});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_TRUE(mentions(checked, "identical")) << checked.output;
  third_conn_->exec("UPDATE accounts SET name = 'changed' WHERE id = 77");
  auto changed = run_pgblit({"verify", "--spool", spool_.string(), "--target", third_url()});
  EXPECT_EQ(changed.exit_code, 3) << changed.output;
  EXPECT_TRUE(mentions(changed, "differs: chunk 0 of \"public\".\"accounts\"")) << changed.output;
  third_conn_->exec("UPDATE accounts SET name = 'account 77' WHERE id = 77");
  // Run again: everything is in, nothing loads twice.
  auto again = restore();
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(mentions(again, "restored 0 chunks")) << again.output;
  expect_third_like_source("accounts");
}

TEST_F(SpoolTest, one_chunk_file_loads_by_hand_with_zstd_and_psql) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  auto m = manifest();
  const auto& chunk = m["chunks"][0];
  const auto& table = m["tables"][chunk["table"].get<size_t>()];
  std::string columns;
  for (const auto& c : table["columns"]) columns += (columns.empty() ? "" : ", ") + c.get<std::string>();
  std::string target = table["target"];
  third_conn_->exec("SET client_min_messages = warning");
  std::string command = "zstd -dc '" + (spool_ / chunk["file"].get<std::string>()).string() + "' | psql -q '" +
                        third_url() + "' -c '\\copy " + target + " (" + columns + ") from stdin binary' 2>&1";
  EXPECT_EQ(shell_output(command), "");
  EXPECT_EQ(std::stoll(pg::Connection::open(third_url(), "third").exec("SELECT count(*) FROM " + target).text(0, 0)),
            chunk["rows"].get<int64_t>());
}

TEST_F(SpoolTest, a_damaged_chunk_file_is_named_and_none_of_its_chunk_commits) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  auto m = manifest();
  auto damaged = spool_ / m["chunks"][1]["file"].get<std::string>();
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(damaged) / 2));
    char byte = 0;
    f.get(byte);
    f.seekp(static_cast<std::streamoff>(fs::file_size(damaged) / 2));
    f.put(static_cast<char>(byte ^ 0x5a));
  }
  auto restored = restore({"-j", "1"});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  EXPECT_TRUE(mentions(restored, damaged.string())) << restored.output;
  EXPECT_TRUE(mentions(restored, "nothing of this chunk was committed")) << restored.output;
  auto third = pg::Connection::open(third_url(), "third");
  auto in_state = third.exec("SELECT count(*) FROM pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore' AND c.status = 'done' AND c.chunk = 1").text(0, 0);
  EXPECT_EQ(in_state, "0");
  // Whatever is in the tables is exactly the chunks recorded restored: no partial chunk.
  EXPECT_EQ(third.exec("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM notes)").text(0, 0),
            third.exec("SELECT coalesce(sum(c.rows), 0) FROM "
                       "pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore' AND c.status = 'done'").text(0, 0));
  // A truncated file is found as well.
  auto truncated = spool_ / m["chunks"][2]["file"].get<std::string>();
  fs::resize_file(truncated, fs::file_size(truncated) - 100);
  auto again = restore({"-j", "1", "-t", "public.accounts"});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_TRUE(mentions(again, "spool file")) << again.output;
}

TEST_F(SpoolTest, a_killed_restore_continues_where_it_stopped_and_loads_nothing_twice) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  // A gate on the third database's notes (an advisory lock a session of ours holds): each run
  // stops while a lane loads notes, and is killed there.
  third_conn_->exec("CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "PERFORM pg_advisory_lock_shared(4243); PERFORM pg_advisory_unlock_shared(4243); RETURN NEW; END $$;"
                    "CREATE TRIGGER gate BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION gate()");
  auto gate = pg::Connection::open(third_url(), "gate");
  gate.exec("SELECT pg_advisory_lock(4243)");
  auto waiting = [&] {
    return third_conn_->exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = 4243 "
                             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
               .text(0, 0) != "0";
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    PgblitProcess restore_run({"restore", "--spool", spool_.string(), "--target", third_url(), "-j", "2"});
    ASSERT_TRUE(eventually(waiting)) << restore_run.output_so_far();
    restore_run.kill_now();
    EXPECT_EQ(restore_run.wait().exit_code, 128 + SIGKILL);
    // The killed run's session still waits at the gate: it must be gone before the next one.
    gate.exec("SELECT pg_advisory_unlock(4243)");
    ASSERT_TRUE(eventually([&] {
      return third_conn_->exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND query LIKE 'COPY%'")
                 .text(0, 0) == "0";
    }));
    gate.exec("SELECT pg_advisory_lock(4243)");
  }
  EXPECT_EQ(third_conn_->exec("SELECT count(*) FROM notes").text(0, 0), "0") << "killed before notes committed";
  gate.exec("SELECT pg_advisory_unlock(4243)");
  auto finished = restore();
  EXPECT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_EQ(third_conn_->exec(constraints_sql()).text(0, 0), "3") << "the deferred keys are back";
  expect_third_like_source("accounts");
  expect_third_like_source("notes");
}

TEST_F(SpoolTest, a_killed_spooled_copy_leaves_an_incomplete_spool_that_resume_completes) {
  // Killed while a lane loads notes (held at the gate): the spool cannot be complete.
  gate_inserts_into("notes");
  close_gate();
  PgblitProcess run(copy_args({"--spool", spool_.string(), "--chunk-size", "256kB", "--indexes", "keep"}));
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << run.output_so_far();
  run.kill_now();
  run.wait();
  open_gate();
  ASSERT_FALSE(manifest()["complete"].get<bool>());
  auto listed = run_pgblit({"spool", "ls", spool_.string()});
  EXPECT_TRUE(mentions(listed, "incomplete")) << listed.output;
  auto early = restore();
  EXPECT_EQ(early.exit_code, 2) << early.output;
  EXPECT_TRUE(mentions(early, "incomplete")) << early.output;
  auto resumed = run_pgblit({"copy", "--resume", "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(manifest()["complete"].get<bool>());
  ASSERT_EQ(restore().exit_code, 0);
  expect_third_like_source("accounts");
  expect_third_like_source("notes");
}

TEST_F(SpoolTest, spools_are_listed_and_expired_ones_pruned) {
  ASSERT_EQ(copy_spooled({"--keep", "1s"}).exit_code, 0);
  // The fact: a second after it was written, this spool (not another one in the same folder)
  // is listed as expired and prune would remove it.
  // The status column, not the line: the spool's own path may contain the word "expired".
  auto status_of_this_spool = [&](const std::string& output) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string folder, status;
      if (words >> folder >> status && folder == spool_.string()) return status;
    }
    return std::string();
  };
  RunResult listed;
  ASSERT_TRUE(eventually([&] {
    listed = run_pgblit({"spool", "ls", spool_.parent_path().string()});
    return status_of_this_spool(listed.output) == "expired";
  }, 10)) << listed.output;
  auto dry = run_pgblit({"spool", "prune", spool_.string(), "--dry-run"});
  EXPECT_TRUE(mentions(dry, "would remove")) << dry.output;
  EXPECT_TRUE(fs::exists(spool_ / "manifest.json"));
  auto pruned = run_pgblit({"spool", "prune", spool_.string()});
  EXPECT_EQ(pruned.exit_code, 0) << pruned.output;
  EXPECT_FALSE(fs::exists(spool_));
  // A spool folder is never reused, and --keep needs a spool.
  ASSERT_EQ(copy_spooled({"--on-existing", "truncate"}).exit_code, 0);
  auto reused = copy_spooled({"--on-existing", "truncate"});
  EXPECT_EQ(reused.exit_code, 2) << reused.output;
  EXPECT_TRUE(mentions(reused, "already holds a complete spool")) << reused.output;
  auto keep_alone = copy({"--keep", "90d", "--on-existing", "truncate"});
  EXPECT_EQ(keep_alone.exit_code, 2) << keep_alone.output;
}

TEST_F(SpoolTest, a_backup_without_a_target_carries_its_schema_and_restores_identical) {
  source_sql("CREATE SEQUENCE accounts_id_seq OWNED BY accounts.id; SELECT setval('accounts_id_seq', 120000)");
  auto backup = run_pgblit({"backup", "--source", source_url(), "--spool", spool_.string(), "-j", "2",
                            "--chunk-size", "256kB", "-t", "accounts", "-t", "notes"});
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  auto m = manifest();
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["run_id"], 0);
  EXPECT_GT(m["chunks"].size(), 4u);
  ASSERT_TRUE(fs::exists(spool_ / "schema.dump"));
  // Into a database without the tables: the spool's own schema first, then its data.
  third_conn_->exec("DROP TABLE notes, accounts");
  EXPECT_NE(m["sequences"].dump().find("accounts_id_seq"), std::string::npos) << m["sequences"].dump();
  EXPECT_EQ(shell_output("pg_restore -d '" + third_url() + "' '" + (spool_ / "schema.dump").string() + "' 2>&1"), "");
  auto restored = restore({"-j", "2"});
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  expect_third_like_source("accounts");
  expect_third_like_source("notes");
  EXPECT_EQ(third_conn_->exec("SELECT count(*) FROM pg_constraint WHERE conname = 'notes_account_id_fkey'").text(0, 0), "1");
  EXPECT_EQ(third_conn_->exec("SELECT last_value FROM accounts_id_seq").text(0, 0), "120000") << "the sequence came back";
  // The folder now holds a spool: a second backup into it is refused before anything is read.
  auto again = run_pgblit({"backup", "--source", source_url(), "--spool", spool_.string()});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_TRUE(mentions(again, "already holds a complete spool")) << again.output;
}

TEST_F(SpoolTest, a_killed_backup_is_completed_by_resume) {
  // A backup has no target to gate: it is held on the source instead. Its coordinator keeps
  // the tables share-locked, so an exclusive lock on the table of the last planned chunk, asked
  // for once the schema is dumped, is never granted while the run lives, yet queues every
  // later reader behind it: the one lane stops there, after the chunks before it are on disk.
  PgblitProcess run({"backup", "--source", source_url(), "--spool", spool_.string(), "-j", "1", "--chunk-size", "256kB",
                     "-t", "accounts", "-t", "notes"});
  ASSERT_TRUE(eventually([&] { return fs::exists(spool_ / "schema.dump"); })) << run.output_so_far();
  auto m = manifest();
  std::string last = m["tables"][m["chunks"].back()["table"].get<size_t>()]["source"];
  auto holder = pg::Connection::open(source_url(), "holder");
  holder.exec("BEGIN");
  std::thread queued([&] { holder.exec("LOCK TABLE " + last + " IN ACCESS EXCLUSIVE MODE"); });
  bool held = eventually([&] {  // the holder's request and the lane's read wait
    return source_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '" + last + "'::regclass") == "2";
  });
  run.kill_now();
  run.wait();
  queued.join();  // granted once the killed run's coordinator session is gone
  holder.exec("COMMIT");
  ASSERT_TRUE(held) << run.output_so_far();
  ASSERT_TRUE(fs::exists(spool_ / "data" / "chunk-000001.copy.zst"));
  ASSERT_FALSE(manifest()["complete"].get<bool>());
  EXPECT_TRUE(mentions(run_pgblit({"spool", "ls", spool_.string()}), "incomplete"));
  auto resumed = run_pgblit({"backup", "--resume", "--source", source_url(), "--spool", spool_.string()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(mentions(resumed, "chunk files kept")) << resumed.output;
  EXPECT_TRUE(manifest()["complete"].get<bool>());
  ASSERT_EQ(restore().exit_code, 0);
  expect_third_like_source("accounts");
  expect_third_like_source("notes");
  auto again = run_pgblit({"backup", "--resume", "--source", source_url(), "--spool", spool_.string()});
  EXPECT_EQ(again.exit_code, 2) << again.output;
}

// A spool on a small tmpfs of its own (needs root to mount: the suite runs as root).
class SpoolDiskTest : public SpoolTest {
 protected:
  void SetUp() override {
    SpoolTest::SetUp();
    dir_ = "/tmp/pgblit-tinyspool-" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0700);
    if (geteuid() != 0 || std::system(("mount -t tmpfs -o size=64m tmpfs " + dir_ + " 2>/dev/null").c_str()) != 0) {
      // Never a skip that passes: the suite runs as root (README), and a disk that fills is a case to see.
      GTEST_FAIL() << "cannot mount a small tmpfs on " << dir_ << ": run the integration tests as root";
    }
    mounted_ = true;
    spool_ = fs::path(dir_) / "spool";
  }
  void TearDown() override {
    SpoolTest::TearDown();
    if (mounted_ && std::system(("umount " + dir_).c_str()) != 0) ADD_FAILURE() << "umount " << dir_;
    rmdir(dir_.c_str());
  }
  void resize(const std::string& size) {
    ASSERT_EQ(std::system(("mount -o remount,size=" + size + " " + dir_).c_str()), 0);
  }
  std::string dir_;
  bool mounted_ = false;
};

TEST_F(SpoolDiskTest, a_spool_that_cannot_fit_is_refused_before_anything_is_written) {
  resize("256k");
  auto run = copy_spooled();
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "the spool needs about")) << run.output;
  EXPECT_TRUE(mentions(run, dir_)) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM accounts"), "0");
}

TEST_F(SpoolDiskTest, a_disk_that_fills_mid_run_stops_the_copy_cleanly_and_resume_finishes) {
  // notes waits for our lock (after the room was checked and accounts spooled); the disk fills.
  auto holder = pg::Connection::open(target_url(), "holder");
  holder.exec("BEGIN; LOCK TABLE notes IN SHARE MODE");
  PgblitProcess run(copy_args({"--spool", spool_.string(), "--chunk-size", "256kB", "--indexes", "keep"}));
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'notes'::regclass") != "0";
  })) << run.output_so_far();
  std::system(("dd if=/dev/zero of=" + dir_ + "/filler bs=64k 2>/dev/null").c_str());
  holder.exec("COMMIT");
  auto stopped = run.wait();
  EXPECT_EQ(stopped.exit_code, 1) << stopped.output;
  EXPECT_TRUE(mentions(stopped, "No space left on device")) << stopped.output;
  EXPECT_TRUE(mentions(stopped, spool_.string())) << stopped.output;
  EXPECT_EQ(target_value("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM notes)"),
            target_value("SELECT coalesce(sum(rows), 0) FROM pgblit.chunks WHERE status = 'done'"));
  fs::remove(fs::path(dir_) / "filler");
  auto resumed = run_pgblit({"copy", "--resume", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_contents("accounts");
  expect_same_contents("notes");
  EXPECT_TRUE(manifest()["complete"].get<bool>());
  EXPECT_EQ(restore().exit_code, 0);
  expect_third_like_source("accounts");
  fs::remove_all(spool_);
}

}  // namespace
}  // namespace pgblit::test
