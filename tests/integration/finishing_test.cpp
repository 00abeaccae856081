// While the copy goes on, each target table is read back for verification and analyzed as
// soon as its last chunk is in: differences are still caught, and no table is left without
// statistics.
#include "harness.hpp"

namespace pgblit::test {
namespace {

using FinishingTest = DatabasePair;

TEST_F(FinishingTest, tables_are_verified_and_analyzed_as_they_complete) {
  // Bare targets (no index): each table is compared whole once its chunks are in.
  source_sql("CREATE TABLE big (id int PRIMARY KEY, v text); CREATE TABLE stamped (id int PRIMARY KEY, note text)");
  target_sql("CREATE TABLE big (id int, v text); CREATE TABLE stamped (id int, note text)");
  both_sql("CREATE TABLE keyless (at int, v text)");
  target_sql("ALTER TABLE big SET (autovacuum_enabled = off); ALTER TABLE stamped SET (autovacuum_enabled = off);"
             "ALTER TABLE keyless SET (autovacuum_enabled = off)");  // statistics only from pgblit's ANALYZE
  target_sql("CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "IF NEW.id = 7 THEN NEW.note := 'trigger ran'; END IF; RETURN NEW; END $$;"
             "CREATE TRIGGER stamp BEFORE INSERT ON stamped FOR EACH ROW EXECUTE FUNCTION stamp()");
  source_sql(R"sql(
INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
INSERT INTO keyless SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
INSERT INTO stamped SELECT g, md5(g::text) FROM generate_series(1, 50000) g)sql");
  auto run = copy({"--chunk-size", "1MB", "-j", "2", "--yes", "--log-level", "debug"});
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("differs: table \"public\".\"stamped\""), std::string::npos) << run.output;
  for (const char* t : {"big", "keyless", "stamped"}) {
    EXPECT_NE(run.output.find(std::string("read \"public\".\"") + t + "\" back for verification"), std::string::npos)
        << t << ": not read back as it completed\n" << run.output;
    EXPECT_EQ(target_value(std::string("SELECT reltuples::bigint = (SELECT count(*) FROM ") + t +
                           ") FROM pg_class WHERE oid = '" + t + "'::regclass"),
              "t")
        << t << ": not analyzed";
  }
  expect_same_contents("big");
  expect_same_contents("keyless");
}

}  // namespace
}  // namespace pgblit::test
