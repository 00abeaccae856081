// copy --follow, cutover and unfollow on the real clusters (wal_level = logical, scripts/clusters.sh):
// a source written to during the copy ends up identical on the target, whatever order the
// writes commit in, through idle stretches, cascades and TRUNCATE, a killed cutover, and
// nothing (slot, publication, subscription) is left behind. Every wait is on a fact.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "follow_fixture.hpp"

namespace pgblit::test {
namespace {

class FollowTest : public FollowFixture {};

// One source session writing in a thread of its own, `write` after `write` (each committed by
// itself, with the writer's own seeded random numbers), until told to stop.
class BackgroundWriter {
 public:
  using Write = std::function<void(pg::Connection&, std::mt19937&)>;
  BackgroundWriter(const std::string& url, unsigned seed, Write write)
      : conn_(pg::Connection::open(url, "writer")), write_(std::move(write)), random_(seed), thread_([this] { run(); }) {}
  ~BackgroundWriter() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t writes() const { return writes_; }
  // Waits until it has committed `more` writes from now.
  bool wrote(int64_t more) {
    int64_t from = writes_;
    return eventually([&] { return writes_ >= from + more; });
  }

 private:
  void run() {
    while (!stopping_) {
      write_(conn_, random_);
      ++writes_;
    }
  }
  pg::Connection conn_;
  Write write_;
  std::mt19937 random_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> writes_{0};
  std::thread thread_;
};

// Inserts, updates and deletes all over the key range of `items`.
class Writer : public BackgroundWriter {
 public:
  explicit Writer(const std::string& url)
      : BackgroundWriter(url, 42, [](pg::Connection& conn, std::mt19937& random) {
          int64_t id = random() % 20000 + 1;
          switch (random() % 3) {
            case 0: conn.exec("INSERT INTO items (n, note) VALUES (1, 'new')"); break;
            case 1: conn.exec(fmt::format("UPDATE items SET n = n + 1, note = 'changed' WHERE id = {}", id)); break;
            default: conn.exec(fmt::format("DELETE FROM items WHERE id = {}", id)); break;
          }
        }) {}
};

TEST_F(FollowTest, WritesDuringTheCopyAreOnTheTargetAfterCutover) {
  both_sql("CREATE TABLE items (id bigserial PRIMARY KEY, n int NOT NULL, note text)");
  source_sql("INSERT INTO items (n, note) SELECT g, repeat('x', 50) FROM generate_series(1, 20000) g; ANALYZE items");
  gate_inserts_into("items");
  close_gate();
  Writer writer(source_url());
  PgblitProcess copying(copy_args({"--follow", "-j", "2", "--chunk-size", "64kB"}));
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << copying.output_so_far();
  // Writes land while the lanes hold the snapshot, before any chunk is in.
  int64_t before = writer.writes();
  ASSERT_TRUE(eventually([&] { return writer.writes() > before + 300; }));
  open_gate();
  auto copied = copying.wait();
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  int64_t run = latest_run();
  EXPECT_EQ(follow_state(run), "following");
  EXPECT_EQ(target_value(fmt::format("SELECT status FROM pgblit.runs WHERE id = {}", run)), "following");
  ASSERT_TRUE(apply_worker_running());
  // And while the target follows: rows of chunks copied long ago change.
  before = writer.writes();
  ASSERT_TRUE(eventually([&] { return writer.writes() > before + 300; }));
  auto status = run_pgblit({"status", std::to_string(run), "--target", target_url(), "--source", source_url()});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_TRUE(mentions(status, "lag:")) << status.output;
  writer.stop();
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_TRUE(mentions(cut, "downtime")) << cut.output;
  expect_same_contents("items");
  EXPECT_GT(std::stoll(target_value("SELECT nextval('items_id_seq')")), std::stoll(source_value("SELECT max(id) FROM items")));
  expect_nothing_left();
  EXPECT_EQ(target_value(fmt::format("SELECT status FROM pgblit.runs WHERE id = {}", run)), "done");
}

TEST_F(FollowTest, OppositeCommitOrderAndIdleStretchesAreApplied) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g");
  int64_t run = follow();
  auto first = pg::Connection::open(source_url(), "first");
  auto second = pg::Connection::open(source_url(), "second");
  first.exec("BEGIN; INSERT INTO t VALUES (5001, 'began first'); UPDATE t SET v = 'first' WHERE id = 1");
  second.exec("BEGIN; INSERT INTO t VALUES (5002, 'began second'); DELETE FROM t WHERE id = 2");
  second.exec("COMMIT");
  first.exec("COMMIT");
  // Idle: everything confirmed, nothing written; then one more write after the stretch.
  ASSERT_TRUE(caught_up());
  ASSERT_TRUE(caught_up());
  source_sql("UPDATE t SET v = 'after idle' WHERE id = 3");
  auto cut = cutover(run, {"--check", "full"});
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  expect_same_contents("t");
  EXPECT_EQ(target_value("SELECT string_agg(v, ',' ORDER BY id) FROM t WHERE id IN (1, 3, 5001, 5002)"),
            "first,after idle,began first,began second");
  expect_nothing_left();
}

TEST_F(FollowTest, CascadesAndTruncateAreApplied) {
  both_sql("CREATE TABLE parent (id int PRIMARY KEY); "
           "CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE); "
           "CREATE TABLE scratch (id int PRIMARY KEY)");
  source_sql("INSERT INTO parent SELECT generate_series(1, 100); "
             "INSERT INTO child SELECT g, g % 100 + 1 FROM generate_series(1, 2000) g; "
             "INSERT INTO scratch SELECT generate_series(1, 500)");
  int64_t run = follow();
  source_sql("DELETE FROM parent WHERE id <= 30");  // cascades to child on the source; each child row is published
  source_sql("TRUNCATE scratch");
  source_sql("INSERT INTO scratch VALUES (7)");
  ASSERT_TRUE(caught_up());
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  for (const auto* table : {"parent", "child", "scratch"}) expect_same_contents(table);
  EXPECT_EQ(target_value("SELECT count(*) FROM child WHERE parent <= 30"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM scratch"), "1");
  expect_nothing_left();
}

TEST_F(FollowTest, AKilledCutoverIsFinishedByRunningItAgain) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v int)");
  source_sql("INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g");
  int64_t run = follow();
  // The target stops applying: the cutover waits for the catch-up, and is killed there.
  target_sql("DO $$ DECLARE s text; BEGIN SELECT subname INTO s FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()); "
             "EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s); END $$");
  source_sql("UPDATE t SET v = -v WHERE id % 3 = 0; DELETE FROM t WHERE id % 7 = 0; INSERT INTO t VALUES (2000, 1)");
  auto records = std::make_unique<RunningTransactionsRecords>();  // the fence comes sooner
  PgblitProcess cutting({"cutover", std::to_string(run), "--source", source_url(), "--target", target_url()});
  ASSERT_TRUE(eventually([&] {
    return target_value(fmt::format("SELECT fence_lsn IS NOT NULL FROM pgblit.follows WHERE run_id = {}", run)) == "t";
  })) << cutting.output_so_far();
  cutting.kill_now();
  cutting.wait();
  records.reset();
  EXPECT_EQ(follow_state(run), "cutover");
  auto clean = run_pgblit({"clean", std::to_string(run), "--target", target_url(), "--yes"});
  EXPECT_EQ(clean.exit_code, 2) << clean.output;
  EXPECT_TRUE(mentions(clean, "unfollow")) << clean.output;
  target_sql("DO $$ DECLARE s text; BEGIN SELECT subname INTO s FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()); "
             "EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', s); END $$");
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  expect_same_contents("t");
  expect_nothing_left();
}

TEST_F(FollowTest, UnfollowDropsSlotPublicationAndSubscription) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY)");
  source_sql("INSERT INTO t SELECT generate_series(1, 100)");
  int64_t run = follow();
  auto clean = run_pgblit({"clean", std::to_string(run), "--target", target_url(), "--yes"});
  EXPECT_EQ(clean.exit_code, 2) << clean.output;
  auto r = run_pgblit({"unfollow", std::to_string(run), "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_nothing_left();
  EXPECT_EQ(follow_state(run), "unfollowed");
  clean = run_pgblit({"clean", std::to_string(run), "--target", target_url(), "--yes"});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
}

TEST_F(FollowTest, TablesWithoutReplicaIdentityAreNamedBeforeAnythingIsCreated) {
  both_sql("CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (a int, b text)");
  source_sql("INSERT INTO keyed VALUES (1); INSERT INTO loose VALUES (1, 'x')");
  auto plan = run_pgblit({"plan", "--follow", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(plan.exit_code, 5) << plan.output;
  EXPECT_TRUE(mentions(plan, "public.loose has no primary key or replica identity")) << plan.output;
  EXPECT_TRUE(mentions(plan, "REPLICA IDENTITY FULL")) << plan.output;
  auto copied = copy({"--follow"});
  EXPECT_EQ(copied.exit_code, 2) << copied.output;
  EXPECT_TRUE(mentions(copied, "loose")) << copied.output;
  EXPECT_EQ(source_value("SELECT count(*) FROM pg_publication"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM loose"), "0");
  // With the fix the dry run says go for following.
  source_sql("ALTER TABLE loose REPLICA IDENTITY FULL");
  plan = run_pgblit({"plan", "--follow", "--source", source_url(), "--target", target_url()});
  EXPECT_FALSE(mentions(plan, "no primary key or replica identity")) << plan.output;
}

TEST_F(FollowTest, AWhereFilterBecomesTheRowFilterAndAReshapingMappingIsRefused) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g");
  std::string renaming = "/tmp/pgblit-follow-renaming-" + db_ + ".yaml";
  std::ofstream(renaming) << "version: 1\ntables:\n  public.t:\n    columns:\n      v: {expr: \"upper(v)\"}\n";
  auto refused = copy({"--follow", "--mapping", renaming});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "reshapes")) << refused.output;
  EXPECT_EQ(source_value("SELECT count(*) FROM pg_publication"), "0");
  std::string filtering = "/tmp/pgblit-follow-filtering-" + db_ + ".yaml";
  std::ofstream(filtering) << "version: 1\ntables:\n  public.t:\n    where: \"id <= 50\"\n";
  int64_t run = follow({"--mapping", filtering});
  source_sql("INSERT INTO t VALUES (0, 'in'), (500, 'out'); UPDATE t SET v = 'changed' WHERE id IN (1, 60)");
  ASSERT_TRUE(caught_up());
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_EQ(target_value("SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM t"), "51 0 50");
  EXPECT_EQ(target_value("SELECT v FROM t WHERE id = 1"), "changed");
  expect_nothing_left();
}

// Inserts, updates (of values and of keys) and deletes on `items` (keys 1..20000 at first) and
// on `filtered` (1..4000, its mapping keeping id <= 2000; keys move into and out of the
// filter), committed one by one, until told to stop. Keys it makes are its own (no collision).
class KeyWriter : public BackgroundWriter {
 public:
  explicit KeyWriter(const std::string& url)
      : BackgroundWriter(url, 7, [fresh = int64_t{100000}](pg::Connection& conn, std::mt19937& random) mutable {
          int64_t id = random() % 20000 + 1;
          int64_t f = random() % 4000 + 1;
          ++fresh;
          switch (random() % 7) {
            case 0: conn.exec(fmt::format("INSERT INTO items VALUES ({}, 0, 'new')", fresh)); break;
            case 1: conn.exec(fmt::format("UPDATE items SET n = n + 1, note = 'changed' WHERE id = {}", id)); break;
            case 2: conn.exec(fmt::format("UPDATE items SET id = {}, note = 'moved' WHERE id = {}", fresh, id)); break;
            case 3: conn.exec(fmt::format("DELETE FROM items WHERE id = {}", id)); break;
            case 4: conn.exec(fmt::format("UPDATE filtered SET v = 'changed' WHERE id = {}", f)); break;
            // Out of the filter, and into it (negative keys are kept by id <= 2000).
            case 5: conn.exec(fmt::format("UPDATE filtered SET id = {} WHERE id = {}", fresh, f)); break;
            default: conn.exec(fmt::format("UPDATE filtered SET id = {}, v = 'in' WHERE id = {}", -fresh, f)); break;
          }
        }) {}
};

class FollowResumeTest : public FollowTest {
 protected:
  void SetUp() override {
    FollowTest::SetUp();
    both_sql("CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL, note text); CREATE INDEX ON items (n); "
             "CREATE TABLE archive (id int PRIMARY KEY, v text); CREATE TABLE filtered (id int PRIMARY KEY, v text)");
    source_sql("INSERT INTO items SELECT g, g, repeat('x', 50) FROM generate_series(1, 20000) g; "
               // 8 pages, one chunk as large as the biggest of items': with the lower chunk number, the
               // first chunk copied (largest first), so the kill finds it done.
               "INSERT INTO archive SELECT g, repeat('a', 1000) FROM generate_series(1, 56) g; "
               "INSERT INTO filtered SELECT g, 'f' FROM generate_series(1, 4000) g; ANALYZE");
    mapping_ = "/tmp/pgblit-follow-resume-" + db_ + ".yaml";
    std::ofstream(mapping_) << "version: 1\ntables:\n  public.filtered:\n    where: \"id <= 2000\"\n";
  }

  std::vector<std::string> follow_args() {
    return copy_args({"--follow", "-j", "1", "--chunk-size", "64kB", "--mapping", mapping_});
  }

  std::string done_chunks() {
    if (target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") != "t") return "";
    return target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'");
  }

  // The target is the source, by content computed on both sides, and nothing is left.
  void expect_identical_and_nothing_left() {
    expect_same_contents("items");
    expect_same_contents("archive");
    expect_same_contents("(SELECT * FROM filtered WHERE id <= 2000)", "filtered");
    expect_nothing_left();
  }


  // A copy --follow killed after 4 chunks (the archive's among them) while `writer` changes rows
  // of chunks copied and not yet copied (keys too, and into and out of the where filter); then
  // more writes, a TRUNCATE among them. Returns the run.
  int64_t killed_after_four_chunks(KeyWriter& writer, const std::vector<std::string>& more = {}) {
    auto args = follow_args();
    args.insert(args.end(), more.begin(), more.end());
    auto copying = holding_after(kAfterChunks, 4, args);
    EXPECT_TRUE(eventually([&] { return done_chunks() == "4"; })) << copying->output_so_far();
    EXPECT_TRUE(writer.wrote(200));  // after the snapshot, while it holds
    copying->kill_now();
    copying->wait();
    int64_t run = latest_run();
    EXPECT_EQ(follow_state(run), "copying");
    EXPECT_LT(std::stoll(done_chunks()), std::stoll(target_value("SELECT count(*) FROM pgblit.chunks")));
    EXPECT_EQ(target_value("SELECT status FROM pgblit.chunks WHERE source_table = '\"public\".\"archive\"'"), "done");
    EXPECT_TRUE(writer.wrote(200));
    source_sql("TRUNCATE archive; INSERT INTO archive SELECT g, 'again' FROM generate_series(1, 30) g");
    return run;
  }

  // The resume reads the missing chunks from a new slot's snapshot and the rows changed since
  // the first snapshot again; the subscription applies the rest; the cutover leaves the target
  // identical and nothing behind.
  // `archive_emptied`: the archive had its chunk done, so this resume empties it.
  void resume_and_cut_over(KeyWriter& writer, int64_t run, bool archive_emptied = true) {
    auto resumed = copy({"--resume", std::to_string(run)});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_TRUE(mentions(resumed, "rows read again")) << resumed.output;
    EXPECT_EQ(mentions(resumed, "public\".\"archive\": rewritten since the run began"), archive_emptied) << resumed.output;
    EXPECT_EQ(follow_state(run), "following");
    ASSERT_TRUE(apply_worker_running());
    ASSERT_TRUE(writer.wrote(200));
    writer.stop();
    auto cut = cutover(run);
    ASSERT_EQ(cut.exit_code, 0) << cut.output;
    expect_identical_and_nothing_left();
  }

  std::string mapping_;
};

// Indexes deferred (the default): the target has no key while the rows are read again.
TEST_F(FollowResumeTest, ACopyKilledMidwayIsResumedAndCutOverIdentical) {
  KeyWriter writer(source_url());
  int64_t run = killed_after_four_chunks(writer);
  resume_and_cut_over(writer, run);
}

// Indexes kept: the changed rows' digests are moved chunk by chunk (verified by key range).
TEST_F(FollowResumeTest, ACopyKilledMidwayWithIndexesKeptIsResumedAndCutOverIdentical) {
  KeyWriter writer(source_url());
  int64_t run = killed_after_four_chunks(writer, {"--indexes", "keep"});
  resume_and_cut_over(writer, run);
}

// The resume killed in turn, once it has read the changed rows of both tables with chunks done
// (the archive emptied, items' rows read again) and before the subscription: the next resume
// makes a newer slot and reads them all again.
TEST_F(FollowResumeTest, AResumeKilledWhileReadingChangedRowsIsResumedAgain) {
  KeyWriter writer(source_url());
  int64_t run = killed_after_four_chunks(writer);
  auto resuming = holding_after(kAfterRereads, 2, copy_args({"--resume", std::to_string(run)}));
  ASSERT_TRUE(eventually([&] {
    return resuming->output_so_far().find("\"public\".\"items\": ") != std::string::npos;
  })) << resuming->output_so_far();
  resuming->kill_now();
  resuming->wait();
  EXPECT_EQ(follow_state(run), "resuming");
  ASSERT_TRUE(writer.wrote(200));
  resume_and_cut_over(writer, run, /*archive_emptied=*/false);  // the first resume did, and its chunk waits
}

// Killed once a deferred index is rebuilt, every chunk in and no subscription yet: the slot
// still starts at the snapshot every row was read in, so the resume keeps it, rebuilds the
// rest, verifies and subscribes; what was written meanwhile is applied.
TEST_F(FollowResumeTest, ACopyKilledBeforeItsSubscriptionIsResumedAndCutOverIdentical) {
  KeyWriter writer(source_url());
  auto copying = holding_after(kAfterRebuilds, 1, follow_args());
  // Tables are rebuilt as they are loaded, while others still load: held once every chunk is in.
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.objects') IS NOT NULL") == "t" &&
           target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'rebuilt'") != "0" &&
           target_value("SELECT bool_and(status = 'done') FROM pgblit.chunks") == "t";
  })) << copying->output_so_far();
  copying->kill_now();
  copying->wait();
  int64_t run = latest_run();
  EXPECT_EQ(follow_state(run), "copying");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE "
                         "datname = current_database())"), "0");
  ASSERT_TRUE(writer.wrote(300));
  auto resumed = copy({"--resume", std::to_string(run)});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_FALSE(mentions(resumed, "rows read again")) << resumed.output;
  EXPECT_EQ(follow_state(run), "following");
  ASSERT_TRUE(apply_worker_running());
  ASSERT_TRUE(writer.wrote(200));
  writer.stop();
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  expect_identical_and_nothing_left();
}

// The default check compares the rows changed since the snapshot, and only those: a writer
// updates and deletes rows through the catch-up; a row planted on the target (a changed row
// altered, a deleted row put back) fails the cutover with exit 3 and leaves the source fenced
// and everything in place; once the target is mended the cutover passes and leaves nothing.
TEST_F(FollowTest, TheChangedRowsCheckCatchesAPlantedDivergence) {
  both_sql("CREATE TABLE items (id bigserial PRIMARY KEY, n int NOT NULL, note text); "
           "CREATE TABLE quiet (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO items (n, note) SELECT g, 'x' FROM generate_series(1, 20000) g; "
             "INSERT INTO quiet SELECT g, 'q' FROM generate_series(1, 100) g; ANALYZE items");
  int64_t run = follow();
  // The lag as an event, for a team's hook: pgblit status --on-event while it follows.
  std::string events = "/tmp/pgblit-follow-lag-" + db_ + ".jsonl";
  std::remove(events.c_str());
  auto status = run_pgblit({"status", std::to_string(run), "--target", target_url(), "--source", source_url(),
                            "--on-event", "cat >> " + events});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  {
    std::ifstream in(events);
    auto event = nlohmann::json::parse(in);
    EXPECT_EQ(event["event"], "follow_lag");
    EXPECT_EQ(event["run_id"], run);
    EXPECT_EQ(event["state"], "following");
    EXPECT_TRUE(event["lag_bytes"].is_number()) << event.dump();
  }
  std::remove(events.c_str());
  {
    Writer writer(source_url());
    int64_t before = writer.writes();
    ASSERT_TRUE(eventually([&] { return writer.writes() > before + 300; }));
  }
  // Keys the writer never picks: one row inserted and changed, one inserted and deleted.
  source_sql("INSERT INTO items VALUES (900001, 1, 'new'), (900002, 1, 'gone'); "
             "UPDATE items SET note = 'known' WHERE id = 900001; DELETE FROM items WHERE id = 900002");
  ASSERT_TRUE(caught_up());
  target_sql("UPDATE items SET note = 'planted' WHERE id = 900001; INSERT INTO items VALUES (900002, 0, 'back')");
  auto failed = cutover(run);
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_TRUE(mentions(failed, "key (900001): differs")) << failed.output;
  EXPECT_TRUE(mentions(failed, "key (900002): deleted on the source, still on the target")) << failed.output;
  EXPECT_EQ(follow_state(run), "cutover");
  EXPECT_EQ(source_value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"), "2");
  target_sql("UPDATE items SET note = 'known' WHERE id = 900001; DELETE FROM items WHERE id = 900002");
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_TRUE(mentions(cut, "changed rows")) << cut.output;
  EXPECT_TRUE(mentions(cut, "1 tables checked")) << cut.output;  // quiet had no change
  expect_same_contents("items");
  expect_same_contents("quiet");
  expect_nothing_left();
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.follow_changes"), "0");
}

// One transaction of some 60,000 changes: applied by the subscription at its commit, read from
// the key slot past its batch size in one piece, compared in several batches of keys.
TEST_F(FollowTest, ALargeTransactionIsAppliedAndChecked) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g");
  int64_t run = follow();
  source_sql("BEGIN; INSERT INTO t SELECT g, 'big' FROM generate_series(1001, 60000) g; "
             "UPDATE t SET v = 'u' WHERE id <= 500; DELETE FROM t WHERE id BETWEEN 501 AND 600; COMMIT");
  ASSERT_TRUE(caught_up());
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_TRUE(mentions(cut, "59600 changed rows")) << cut.output;
  expect_same_contents("t");
  expect_nothing_left();
}

}  // namespace
}  // namespace pgblit::test
