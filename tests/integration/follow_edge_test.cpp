// copy --follow and cutover at their edges (follow_test.cpp has the main paths): keys longer
// than a btree row, a key slot someone dropped, foreign-key actions fired on the source while
// the copy rebuilds the target's deferred keys. Every wait is on a fact.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "follow_fixture.hpp"

namespace pgblit::test {
namespace {

class FollowEdgeTest : public FollowFixture {};

// A 10 kB text key whose start pglz cannot compress: the source's and the target's primary keys
// hold it lz4-compressed (1.3 kB), but written out as jsonb it is 10 kB, far past a btree row
// (about 2.7 kB). The cutover stores it once among the changed keys (by its digest), compares
// it, and finds a divergence planted on it.
TEST_F(FollowEdgeTest, AKeyOfTenKilobytesIsStoredOnceAndChecked) {
  const std::string long_key = "(SELECT repeat(string_agg(chr(19968 + g * 7), ''), 8) FROM generate_series(1, 420) g)";
  both_sql("CREATE TABLE docs (path text COMPRESSION lz4 PRIMARY KEY, v int NOT NULL)");
  source_sql("INSERT INTO docs SELECT 'short ' || g, g FROM generate_series(1, 500) g; "
             "INSERT INTO docs SELECT " + long_key + " || s, 0 FROM unnest(ARRAY['-a', '-b']) s");
  ASSERT_EQ(source_value("SELECT min(octet_length(path)) FROM docs WHERE v = 0"), "10082");
  int64_t run = follow();
  // During the catch-up: the long rows updated, deleted, inserted, a short key made long.
  source_sql("UPDATE docs SET v = 1 WHERE path = " + long_key + " || '-a'; "
             "DELETE FROM docs WHERE path = " + long_key + " || '-b'; "
             "INSERT INTO docs SELECT " + long_key + " || '-c', 3; "
             "UPDATE docs SET path = " + long_key + " || '-d' WHERE path = 'short 7'");
  ASSERT_TRUE(caught_up());
  target_sql("UPDATE docs SET v = 99 WHERE path = " + long_key + " || '-a'");
  auto failed = cutover(run);
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_TRUE(mentions(failed, "bytes): differs")) << failed.output;  // the key shown by its start and size
  EXPECT_FALSE(mentions(failed, source_value("SELECT path FROM docs WHERE v = 1"))) << failed.output;
  // Five keys (a, b, c, the old and new key of d), each stored once though read twice.
  EXPECT_EQ(target_value("SELECT count(*) || ' ' || count(DISTINCT key) FROM pgblit.follow_changes"), "5 5");
  EXPECT_EQ(follow_state(run), "cutover");
  target_sql("UPDATE docs SET v = 1 WHERE path = " + long_key + " || '-a'");
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_TRUE(mentions(cut, "5 changed rows compared")) << cut.output;
  expect_same_contents("docs");
  EXPECT_EQ(target_value("SELECT count(*) FROM docs WHERE octet_length(path) > 10000"), "3");
  expect_nothing_left();
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.follow_changes"), "0");
}

// Someone dropped the key slot while the run follows: --check changes cannot name the changed
// rows. The cutover says so before anything happens (exit 2: the slot and the checks that do
// without it named, the source not fenced, the run still following), and the cutover with
// --check counts then finishes it.
TEST_F(FollowEdgeTest, ADroppedKeySlotIsNamedBeforeTheFenceAndCountsCutOver) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g");
  int64_t run = follow();
  auto key_slot = target_value(fmt::format("SELECT key_slot FROM pgblit.follows WHERE run_id = {}", run));
  source_sql("SELECT pg_drop_replication_slot('" + key_slot + "'); UPDATE t SET v = 'changed' WHERE id <= 10");
  auto refused = cutover(run);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "the key slot " + key_slot + " of run " + std::to_string(run) + " is gone"))
      << refused.output;
  EXPECT_TRUE(mentions(refused, fmt::format("pgblit cutover {} --check counts", run))) << refused.output;
  EXPECT_TRUE(mentions(refused, "--check full")) << refused.output;
  EXPECT_TRUE(mentions(refused, "nothing was done")) << refused.output;
  EXPECT_EQ(follow_state(run), "following");
  // Not fenced: the application still writes, and the target still applies it.
  source_sql("DELETE FROM t WHERE id = 11");
  ASSERT_TRUE(caught_up());
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "999");
  auto cut = cutover(run, {"--check", "counts"});
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  expect_same_contents("t");
  expect_nothing_left();
  EXPECT_EQ(follow_state(run), "done");
}

// The same run given up instead: unfollow drops what is left and minds nothing missing.
TEST_F(FollowEdgeTest, ADroppedKeySlotLeavesUnfollowNothingToTripOn) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY)");
  source_sql("INSERT INTO t SELECT generate_series(1, 100)");
  int64_t run = follow();
  source_sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() "
             "AND slot_name LIKE '%\\_keys'");
  EXPECT_EQ(cutover(run).exit_code, 2);
  auto r = run_pgblit({"unfollow", std::to_string(run), "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_nothing_left();
  EXPECT_EQ(follow_state(run), "unfollowed");
}

// The peer failure (planetscale/pgcopydb#25): cascades lost because the apply started
// before the foreign keys were back. Here the copy holds after its first deferred object is
// rebuilt, the others still dropped; meanwhile the source deletes parents (their children go
// by ON DELETE CASCADE, their notes' references by SET NULL) and changes parents' keys (ON
// UPDATE CASCADE, SET NULL). Checked by what the rows mean, by the parents' names, not ids.
TEST_F(FollowEdgeTest, ForeignKeyActionsFiredWhileDeferredKeysAreRebuiltAreOnTheTarget) {
  both_sql("CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL UNIQUE); "
           "CREATE TABLE child (id int PRIMARY KEY, label text NOT NULL, "
           "  parent_id int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE); "
           "CREATE TABLE note (id int PRIMARY KEY, about text NOT NULL, "
           "  parent_id int REFERENCES parent ON DELETE SET NULL ON UPDATE SET NULL)");
  source_sql("INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 200) g; "
             "INSERT INTO child SELECT g, 'of p' || (g % 200 + 1), g % 200 + 1 FROM generate_series(1, 2000) g; "
             "INSERT INTO note SELECT g, 'p' || (g % 200 + 1), g % 200 + 1 FROM generate_series(1, 400) g");
  std::string release = "/tmp/pgblit-follow-release-" + db_;
  std::filesystem::remove(release);
  auto copying = holding_after(kAfterRebuilds, 1, copy_args({"--follow", "-j", "2", "--index-jobs", "1"}), release);
  auto objects = [&](const std::string& status) {
    if (target_value("SELECT to_regclass('pgblit.objects') IS NULL") == "t") return -1;
    return std::stoi(target_value("SELECT count(*) FROM pgblit.objects WHERE status " + status));
  };
  ASSERT_TRUE(eventually([&] { return objects("= 'rebuilt'") >= 1; })) << copying->output_so_far();
  ASSERT_GT(objects("<> 'rebuilt'"), 0) << "the moment must leave deferred keys to rebuild";
  source_sql("DELETE FROM parent WHERE id <= 20; "
             "UPDATE parent SET id = id + 1000 WHERE id BETWEEN 21 AND 30; "
             "INSERT INTO parent VALUES (500, 'p500'); INSERT INTO child VALUES (5000, 'of p500', 500)");
  std::ofstream(release).put('\n');
  auto copied = copying->wait();
  std::filesystem::remove(release);
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  int64_t run = latest_run();
  ASSERT_EQ(follow_state(run), "following") << copied.output;
  EXPECT_EQ(objects("<> 'rebuilt'"), 0);
  ASSERT_TRUE(apply_worker_running());
  ASSERT_TRUE(caught_up());
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  for (const auto* table : {"parent", "child", "note"}) expect_same_contents(table);
  // The deleted parents' children are gone, their notes point nowhere.
  EXPECT_EQ(target_value("SELECT count(*) FROM child WHERE label IN (SELECT 'of p' || g FROM generate_series(1, 20) g)"),
            "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM note WHERE parent_id IS NULL"), "60");  // p1..p30, two notes each
  // Every reference names the right parent; the re-keyed parents' children followed them.
  EXPECT_EQ(target_value("SELECT count(*) FROM child c JOIN parent p ON p.id = c.parent_id "
                         "WHERE c.label <> 'of ' || p.name"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM child c LEFT JOIN parent p ON p.id = c.parent_id WHERE p.id IS NULL"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM child c JOIN parent p ON p.id = c.parent_id WHERE p.id > 1000"), "100");
  EXPECT_EQ(target_value("SELECT count(*) FROM note n JOIN parent p ON p.id = n.parent_id WHERE n.about <> p.name"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM child WHERE parent_id = 500"), "1");
  // The foreign keys are back, validated, with their actions.
  std::string keys = "SELECT string_agg(conname || ' ' || confupdtype::text || confdeltype::text || ' ' || "
                     "convalidated, ', ' ORDER BY conname) FROM pg_constraint WHERE contype = 'f' "
                     "AND connamespace = 'public'::regnamespace";
  EXPECT_EQ(target_value(keys), "child_parent_id_fkey cc true, note_parent_id_fkey nn true");
  EXPECT_EQ(target_value(keys), source_value(keys));
  expect_nothing_left();
}

// A table without a key, given REPLICA IDENTITY FULL as the dry run says: it follows (the
// publication gives no column list, which PostgreSQL 15 refuses on such a table even when it
// names every column), and its changes make the cutover compare it whole: a row planted on the
// target is found by the table's digest.
TEST_F(FollowEdgeTest, AKeylessTableOfReplicaIdentityFullFollowsAndIsComparedWhole) {
  both_sql("CREATE TABLE log (at int NOT NULL, what text); CREATE TABLE keyed (id int PRIMARY KEY)");
  source_sql("INSERT INTO log SELECT g, 'e' || g FROM generate_series(1, 1000) g; INSERT INTO keyed VALUES (1); "
             "ALTER TABLE log REPLICA IDENTITY FULL");
  int64_t run = follow();
  source_sql("INSERT INTO log VALUES (5000, 'live'); UPDATE log SET what = 'changed' WHERE at = 1; "
             "DELETE FROM log WHERE at = 2");
  ASSERT_TRUE(caught_up());
  target_sql("UPDATE log SET what = 'planted' WHERE at = 3");  // a row no change touched, in a table compared whole
  auto failed = cutover(run);
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_TRUE(mentions(failed, "\"public\".\"log\": source 1000 rows, digest")) << failed.output;
  target_sql("UPDATE log SET what = 'e3' WHERE at = 3");
  auto cut = cutover(run);
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_TRUE(mentions(cut, "(1 compared whole)")) << cut.output;
  expect_same_contents("log");
  EXPECT_EQ(target_value("SELECT count(*) || ' ' || max(at) FROM log WHERE what <> 'e' || at"), "2 5000");
  expect_nothing_left();
}

}  // namespace
}  // namespace pgblit::test
