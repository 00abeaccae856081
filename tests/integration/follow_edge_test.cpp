// copy --follow and cutover at their edges (follow_test.cpp has the main paths): keys longer
// than a btree row, a key slot someone dropped, foreign-key actions fired on the source while
// the copy rebuilds the target's deferred keys. Every wait is on a fact.
#include <fmt/format.h>

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

}  // namespace
}  // namespace pgblit::test
