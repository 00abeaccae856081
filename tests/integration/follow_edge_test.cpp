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

}  // namespace
}  // namespace pgblit::test
