// The spool's safety: a manifest is untrusted input (nothing in it runs as SQL, names are
// checked against the catalog, a malformed one is refused naming the field); prune never
// removes a spool a live run writes nor leaves a symlinked spool's files behind; spool files
// are the owner's alone; ls finds a missing chunk file; a resumed copy keeps its --keep;
// restore asks before it empties tables and status counts a failed restore's chunks; verify
// --spool compares ctid-range tables whole; the spool's size estimate is not short of what it
// takes. Every check reads the real servers and files.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class SpoolSafetyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    umask(022);  // what pgblit writes must be private whatever the umask lets through
    base_ = fs::temp_directory_path() / ("pgblit-spool-safety-" + db_);
    fs::remove_all(base_);
    fs::create_directories(base_);
    spool_ = base_ / "spool";
    third_ = db_ + "_third";
    auto admin = pg::Connection::open(cluster_url(target_port(), "postgres"), "admin");
    admin.exec("DROP DATABASE IF EXISTS \"" + third_ + "\" WITH (FORCE)");
    admin.exec("CREATE DATABASE \"" + third_ + "\"");
    source_sql(R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
INSERT INTO accounts SELECT g, 'account ' || g || repeat('x', 40) FROM generate_series(1, 60000) g;
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);
INSERT INTO notes SELECT g, g % 1000 + 1, repeat('n', g % 50) FROM generate_series(1, 5000) g;
ANALYZE)");
    schema_ = R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);
CREATE TABLE victim (x int); INSERT INTO victim VALUES (1);)";
    target_sql(schema_);
    third().exec(schema_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }

  std::string third_url() const { return cluster_url(target_port(), third_); }
  pg::Connection third() { return pg::Connection::open(third_url(), "third"); }
  RunResult copy_spooled(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--spool", spool_.string(), "--chunk-size", "1MB"};
    args.insert(args.end(), extra.begin(), extra.end());
    return copy(args);
  }
  RunResult verify_spool(const std::string& url) {
    return run_pgblit({"verify", "--spool", spool_.string(), "--target", url});
  }
  nlohmann::json manifest() {
    std::ifstream in(spool_ / "manifest.json");
    return nlohmann::json::parse(in);
  }
  void write_manifest(const nlohmann::json& m) { std::ofstream(spool_ / "manifest.json") << m.dump(1); }
  bool victim_alive(pg::Connection& conn) {
    return conn.exec("SELECT to_regclass('public.victim') IS NOT NULL").boolean(0, 0);
  }
  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
  }
  // A copy into the target that waits, spool manifest written, on our SHARE lock on notes.
  std::unique_ptr<PgblitProcess> start_held_copy(pg::Connection& holder, std::vector<std::string> extra) {
    holder.exec("BEGIN; LOCK TABLE notes IN SHARE MODE");
    std::vector<std::string> args{"--spool", spool_.string(), "--chunk-size", "1MB", "--indexes", "keep"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto run = std::make_unique<PgblitProcess>(copy_args(args));
    EXPECT_TRUE(eventually([&] {
      return target_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'notes'::regclass") != "0";
    })) << run->output_so_far();
    return run;
  }

  fs::path base_, spool_;
  std::string third_, schema_;
};

TEST_F(SpoolSafetyTest, a_manifest_edited_to_hold_sql_runs_none_of_it_and_names_the_bad_field) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  const auto original = manifest();
  ASSERT_EQ(original["version"], 2);
  ASSERT_GT(original["chunks"].size(), 2u);
  EXPECT_FALSE(original["chunks"][0].contains("predicate")) << "the manifest carries no SQL";
  EXPECT_EQ(original["tables"][0]["key"], nlohmann::json({"id"}));
  auto target = pg::Connection::open(target_url(), "target");

  // A predicate written into the manifest is not read: the chunks are compared by their typed ranges.
  auto m = original;
  for (auto& c : m["chunks"]) c["predicate"] = "true; DROP TABLE public.victim; SELECT 1";
  write_manifest(m);
  auto ignored = verify_spool(target_url());
  EXPECT_EQ(ignored.exit_code, 0) << ignored.output;
  EXPECT_TRUE(victim_alive(target));

  // A bound value is a quoted literal of the key's type: SQL in it is a bad bigint, never a statement.
  m = original;
  m["chunks"][1]["lower"] = {"1'; DROP TABLE public.victim; --"};
  write_manifest(m);
  auto bad_bound = verify_spool(target_url());
  EXPECT_NE(bad_bound.exit_code, 0) << bad_bound.output;
  EXPECT_FALSE(mentions(bad_bound, "identical")) << bad_bound.output;
  EXPECT_TRUE(victim_alive(target));
  // ... even where the database turns standard_conforming_strings off (backslashes escape there).
  target.exec("ALTER DATABASE \"" + db_ + "\" SET standard_conforming_strings = off");
  m["chunks"][1]["lower"] = {"\\'; DROP TABLE public.victim; --"};
  write_manifest(m);
  auto backslash = verify_spool(target_url());
  EXPECT_NE(backslash.exit_code, 0) << backslash.output;
  EXPECT_TRUE(victim_alive(target));
  target.exec("ALTER DATABASE \"" + db_ + "\" RESET standard_conforming_strings");

  // Names: a table name that is not two quoted identifiers, a key column the target lacks.
  m = original;
  m["tables"][0]["target"] = "\"public\".\"accounts\"; DROP TABLE public.victim; --";
  write_manifest(m);
  auto bad_table = verify_spool(target_url());
  EXPECT_EQ(bad_table.exit_code, 2) << bad_table.output;
  EXPECT_TRUE(mentions(bad_table, "tables[0].target")) << bad_table.output;
  auto bad_restore = run_pgblit({"restore", "--spool", spool_.string(), "--target", third_url()});
  EXPECT_EQ(bad_restore.exit_code, 2) << bad_restore.output;
  EXPECT_TRUE(mentions(bad_restore, "tables[0].target")) << bad_restore.output;
  m = original;
  m["tables"][0]["key"] = {"id\" IS NOT NULL; DROP TABLE public.victim; --"};
  write_manifest(m);
  auto bad_key = verify_spool(target_url());
  EXPECT_EQ(bad_key.exit_code, 2) << bad_key.output;
  EXPECT_TRUE(mentions(bad_key, "tables[0].key[0]")) << bad_key.output;
  EXPECT_TRUE(mentions(bad_key, "does not exist on the target")) << bad_key.output;

  // A chunk file outside the spool, a table index out of range: refused, the field named.
  m = original;
  m["chunks"][1]["file"] = "../../../etc/passwd";
  write_manifest(m);
  auto bad_file = run_pgblit({"restore", "--spool", spool_.string(), "--target", third_url()});
  EXPECT_EQ(bad_file.exit_code, 2) << bad_file.output;
  EXPECT_TRUE(mentions(bad_file, "chunks[1].file")) << bad_file.output;
  m = original;
  m["chunks"][0]["table"] = 7;
  write_manifest(m);
  auto bad_index = verify_spool(target_url());
  EXPECT_EQ(bad_index.exit_code, 2) << bad_index.output;
  EXPECT_TRUE(mentions(bad_index, "chunks[0].table")) << bad_index.output;
  EXPECT_EQ(third().exec("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'").text(0, 0), "0")
      << "nothing was written by the refused restores";

  // A version 1 manifest (its rows as SQL text only) is refused by verify, with the way out.
  m = original;
  m["version"] = 1;
  for (auto& c : m["chunks"]) {
    c.erase("lower");
    c.erase("upper");
    c["predicate"] = "true; DROP TABLE public.victim; SELECT 1";
  }
  write_manifest(m);
  auto old = verify_spool(target_url());
  EXPECT_EQ(old.exit_code, 2) << old.output;
  EXPECT_TRUE(mentions(old, "re-create the spool")) << old.output;
  EXPECT_TRUE(victim_alive(target));
  EXPECT_TRUE(victim_alive(*target_));
}

TEST_F(SpoolSafetyTest, prune_skips_the_spool_of_a_live_copy_and_removes_it_once_complete) {
  auto holder = pg::Connection::open(target_url(), "holder");
  auto run = start_held_copy(holder, {"--keep", "1s"});
  ASSERT_TRUE(fs::exists(spool_ / "manifest.json"));
  ASSERT_TRUE(eventually([&] { return mentions(run_pgblit({"spool", "ls", spool_.string()}), "expired"); }));
  auto pruned = run_pgblit({"spool", "prune", base_.string()});
  EXPECT_EQ(pruned.exit_code, 0) << pruned.output;
  EXPECT_TRUE(mentions(pruned, "skipped " + spool_.string())) << pruned.output;
  EXPECT_TRUE(mentions(pruned, "a running copy or backup is writing it")) << pruned.output;
  EXPECT_TRUE(fs::exists(spool_ / "manifest.json"));
  holder.exec("COMMIT");
  auto finished = run->wait();
  ASSERT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_TRUE(manifest()["complete"].get<bool>());
  // Its writer gone, the complete expired spool goes.
  auto again = run_pgblit({"spool", "prune", base_.string()});
  EXPECT_TRUE(mentions(again, "removed " + spool_.string())) << again.output;
  EXPECT_FALSE(fs::exists(spool_));
}

TEST_F(SpoolSafetyTest, prune_keeps_an_incomplete_spool_its_run_may_still_complete) {
  auto holder = pg::Connection::open(target_url(), "holder");
  auto run = start_held_copy(holder, {"--keep", "1s"});
  run->kill_now();
  run->wait();
  holder.exec("COMMIT");
  ASSERT_TRUE(eventually([&] { return mentions(run_pgblit({"spool", "ls", spool_.string()}), "expired"); }));
  auto pruned = run_pgblit({"spool", "prune", spool_.string()});
  EXPECT_TRUE(mentions(pruned, "incomplete: pgblit copy --resume")) << pruned.output;
  auto resumed = run_pgblit({"copy", "--resume", "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(manifest()["complete"].get<bool>());
  expect_same_contents("accounts");
}

TEST_F(SpoolSafetyTest, spool_rejects_run_folder_and_schema_files_are_the_owners_alone) {
  spool_ = base_ / "new" / "spool";
  auto runs = base_ / "runs";
  ASSERT_EQ(copy_spooled({"--run-dir", runs.string()}).exit_code, 0);
  EXPECT_EQ(mode_of(base_ / "new"), 0700u);
  EXPECT_EQ(mode_of(spool_), 0700u);
  EXPECT_EQ(mode_of(spool_ / "data"), 0700u);
  EXPECT_EQ(mode_of(spool_ / "manifest.json"), 0600u);
  size_t files = 0;
  for (const auto& f : fs::directory_iterator(spool_ / "data")) {
    EXPECT_EQ(mode_of(f.path()), 0600u) << f.path();
    ++files;
  }
  EXPECT_GT(files, 2u);
  EXPECT_EQ(mode_of(runs), 0700u);
  for (const auto& f : fs::recursive_directory_iterator(runs)) {
    EXPECT_EQ(mode_of(f.path()), f.is_directory() ? 0700u : 0600u) << f.path();
  }
  // Rejected rows (whole rows of table data).
  target_sql("TRUNCATE notes, accounts; ALTER TABLE accounts ADD CHECK (id <> 77)");
  auto rejects = base_ / "rejects";
  auto rejected = copy({"--max-rejects", "5", "--rejects-dir", rejects.string(), "-t", "accounts"});
  ASSERT_EQ(rejected.exit_code, 4) << rejected.output;
  EXPECT_EQ(mode_of(rejects), 0700u);
  size_t reject_files = 0;
  for (const auto& f : fs::directory_iterator(rejects)) {
    EXPECT_EQ(mode_of(f.path()), 0600u) << f.path();
    ++reject_files;
  }
  EXPECT_EQ(reject_files, 1u);
  // A backup's schema dump beside its data.
  auto backup = base_ / "backup";
  auto backed = run_pgblit({"backup", "--source", source_url(), "--spool", backup.string(), "-t", "notes"});
  ASSERT_EQ(backed.exit_code, 0) << backed.output;
  EXPECT_EQ(mode_of(backup), 0700u);
  EXPECT_EQ(mode_of(backup / "schema.dump"), 0600u);
  EXPECT_EQ(mode_of(backup / "manifest.json"), 0600u);
}

TEST_F(SpoolSafetyTest, spool_ls_names_a_missing_chunk_file_and_does_not_call_the_spool_complete) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  EXPECT_TRUE(mentions(run_pgblit({"spool", "ls", spool_.string()}), "complete"));
  fs::remove(spool_ / "data" / "chunk-000001.copy.zst");
  auto listed = run_pgblit({"spool", "ls", spool_.string()});
  EXPECT_TRUE(mentions(listed, "damaged")) << listed.output;
  EXPECT_TRUE(mentions(listed, "chunk 1's file " + (spool_ / "data" / "chunk-000001.copy.zst").string() + " is missing"))
      << listed.output;
  EXPECT_FALSE(mentions(listed, " complete ")) << listed.output;
}

TEST_F(SpoolSafetyTest, pruning_a_symlinked_spool_removes_its_real_folder_and_leaves_no_chunk_files) {
  auto real = base_ / "elsewhere" / "spool";
  auto listed_in = base_ / "spools";
  fs::create_directories(listed_in);
  spool_ = real;
  ASSERT_EQ(copy_spooled({"--keep", "1s"}).exit_code, 0);
  auto link = listed_in / "app";
  fs::create_directory_symlink(real, link);
  ASSERT_TRUE(eventually([&] { return mentions(run_pgblit({"spool", "ls", listed_in.string()}), "expired"); }));
  auto pruned = run_pgblit({"spool", "prune", listed_in.string()});
  EXPECT_EQ(pruned.exit_code, 0) << pruned.output;
  EXPECT_TRUE(mentions(pruned, "removed " + link.string())) << pruned.output;
  EXPECT_FALSE(fs::exists(fs::symlink_status(link))) << "the link is gone";
  EXPECT_FALSE(fs::exists(real)) << "and so is the folder it pointed to, chunk files and all";
}

TEST_F(SpoolSafetyTest, a_resumed_spooled_copy_keeps_its_expiry) {
  auto holder = pg::Connection::open(target_url(), "holder");
  auto run = start_held_copy(holder, {"--keep", "90d"});
  run->kill_now();
  run->wait();
  holder.exec("COMMIT");
  // As if killed before its manifest was first written: the run's record alone carries --keep.
  fs::remove(spool_ / "manifest.json");
  auto resumed = run_pgblit({"copy", "--resume", "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto m = manifest();
  EXPECT_TRUE(m["complete"].get<bool>());
  ASSERT_NE(m["expires_at"].get<std::string>(), "") << "the resume applied the run's --keep";
  EXPECT_GT(m["expires_at"].get<std::string>(), m["created_at"].get<std::string>());
}

TEST_F(SpoolSafetyTest, restore_asks_before_it_empties_tables_that_hold_rows) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  auto conn = third();
  conn.exec("INSERT INTO accounts VALUES (999999, 'kept')");
  std::vector<std::string> args{"restore", "--spool", spool_.string(), "--target", third_url(), "--on-existing",
                                "truncate"};
  auto refused = run_pgblit(args);  // no terminal to ask on, no --yes
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "About to empty 1 target tables")) << refused.output;
  EXPECT_TRUE(mentions(refused, "--yes")) << refused.output;
  EXPECT_EQ(conn.exec("SELECT name FROM accounts").text(0, 0), "kept") << "nothing emptied";
  EXPECT_EQ(conn.exec("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'").text(0, 0), "0")
      << "nothing written";
  args.push_back("--yes");
  auto confirmed = run_pgblit(args);
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.output;
  EXPECT_EQ(contents(conn, "accounts"), contents(*source_, "accounts"));
}

TEST_F(SpoolSafetyTest, status_of_a_failed_restore_counts_the_chunks_it_committed) {
  ASSERT_EQ(copy_spooled().exit_code, 0);
  auto m = manifest();
  // The last chunk of accounts (loaded before notes, its child) is cut short.
  size_t last = 0;
  for (const auto& c : m["chunks"]) {
    if (m["tables"][c["table"].get<size_t>()]["target"] == "\"public\".\"accounts\"") last = c["index"];
  }
  ASSERT_GT(last, 1u);
  auto damaged = spool_ / m["chunks"][last]["file"].get<std::string>();
  fs::resize_file(damaged, fs::file_size(damaged) - 50);
  auto restored = run_pgblit({"restore", "--spool", spool_.string(), "--target", third_url(), "-j", "1"});
  ASSERT_EQ(restored.exit_code, 1) << restored.output;
  auto committed = third().exec("SELECT count(*) FROM "
                                 "pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore' AND c.status = 'done'").text(0, 0);
  ASSERT_NE(committed, "0");
  auto status = run_pgblit({"status", "--target", third_url()});
  EXPECT_TRUE(mentions(status, "chunks: " + committed + " done")) << status.output;
  EXPECT_TRUE(mentions(status, "failed")) << status.output;
}

TEST_F(SpoolSafetyTest, verify_spool_compares_ctid_range_tables_whole_and_still_finds_a_change) {
  // No key, and a source heap with holes: the target packs the rows onto fewer pages, so the
  // source's page ranges name other rows there.
  source_sql(R"(
CREATE TABLE events (n int, body text);
INSERT INTO events SELECT g, repeat('e', 100) FROM generate_series(1, 60000) g;
DELETE FROM events WHERE n % 2 = 0;
ANALYZE events)");
  target_sql("CREATE TABLE events (n int, body text)");
  ASSERT_EQ(copy_spooled({"-t", "events"}).exit_code, 0);
  auto m = manifest();
  ASSERT_EQ(m["tables"][0]["ranges"], "ctid");
  ASSERT_GT(m["chunks"].size(), 1u);
  auto same = verify_spool(target_url());
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(mentions(same, "identical")) << same.output;
  target_sql("UPDATE events SET body = 'changed' WHERE n = 30001");
  auto changed = verify_spool(target_url());
  EXPECT_EQ(changed.exit_code, 3) << changed.output;
  EXPECT_TRUE(mentions(changed, "table \"public\".\"events\" (its chunks are ctid page ranges"))
      << changed.output;
}

// The room a spool needs is checked before anything is written; the estimate must not fall
// short of what the spool then takes (it was 22% low: long values TOAST keeps compressed on
// disk stream out whole). Mixed shapes: short compressible rows, long TOASTed values, random text.
TEST_F(SpoolSafetyTest, the_spool_size_estimate_is_not_below_what_the_spool_takes) {
  const char* tables = "CREATE TABLE docs (id int PRIMARY KEY, body text); CREATE TABLE noise (id int PRIMARY KEY, v text)";
  source_sql(tables);
  target_sql(tables);
  source_sql("INSERT INTO docs SELECT g, repeat(md5(g::text), 150) FROM generate_series(1, 3000) g;"
             "INSERT INTO noise SELECT g, md5(g::text) || md5((-g)::text) FROM generate_series(1, 40000) g; ANALYZE");
  auto run = copy_spooled({"--log-level", "info"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::smatch said;
  ASSERT_TRUE(std::regex_search(run.output, said, std::regex(R"(spool: about ([0-9.]+) (B|kB|MB|GB) expected)")))
      << run.output;
  const std::map<std::string, double> unit{{"B", 1}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}};
  double estimate = std::stod(said[1].str()) * unit.at(said[2].str());
  double taken = 0;
  for (const auto& f : fs::recursive_directory_iterator(spool_)) {
    if (f.is_regular_file()) taken += static_cast<double>(f.file_size());
  }
  EXPECT_GE(estimate, taken) << "estimated " << estimate << " bytes, the spool takes " << taken;
  EXPECT_LE(estimate, 3 * taken) << "estimated " << estimate << " bytes, the spool takes " << taken;
}

}  // namespace
}  // namespace pgblit::test
