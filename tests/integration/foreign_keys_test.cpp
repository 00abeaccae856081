// A target that already has its foreign keys: tables load in dependency order; a cycle of
// foreign keys into empty tables loads (they are dropped for the load and validated after),
// and one that stays in place (--indexes keep) needs --disable-triggers.
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace pgblit::test {
namespace {

using ForeignKeysTest = DatabasePair;

TEST_F(ForeignKeysTest, loads_in_foreign_key_order_on_a_target_with_constraints) {
  const char* schema = R"sql(
CREATE TABLE regions (id int PRIMARY KEY, name text);
CREATE TABLE customers (id int PRIMARY KEY, region_id int REFERENCES regions, referrer int REFERENCES customers);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers);
CREATE TABLE order_lines (order_id int REFERENCES orders, line int, PRIMARY KEY (order_id, line));
CREATE TABLE audit (id int, note text))sql";
  source_sql(schema);
  target_sql(schema);
  target_sql("CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'trigger ran'; RETURN NEW; END $$;"
             "CREATE TRIGGER stamp BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION stamp()");
  source_sql(R"sql(
INSERT INTO regions SELECT g, 'r' || g FROM generate_series(1, 10) g;
INSERT INTO customers SELECT g, 1 + g % 10, CASE WHEN g > 1 THEN g - 1 END FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT g, 1 + g % 20000 FROM generate_series(1, 30000) g;
INSERT INTO order_lines SELECT 1 + g % 30000, g FROM generate_series(1, 60000) g;
INSERT INTO audit SELECT g, 'original' FROM generate_series(1, 10) g)sql");
  auto run = copy({"-j", "4"});
  // The target's trigger rewrote audit's rows, so they are not what left: verification says so.
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("differs: chunk 0 of \"public\".\"audit\""), std::string::npos) << run.output;
  for (const char* t : {"regions", "customers", "orders", "order_lines"}) expect_same_contents(t);
  EXPECT_EQ(target_value("SELECT count(*) FROM audit WHERE note = 'trigger ran'"), "10");
}

TEST_F(ForeignKeysTest, a_cycle_needs_disable_triggers_and_then_copies) {
  const char* schema = R"sql(
CREATE TABLE a (id int PRIMARY KEY, b_id int);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
CREATE TABLE audit (id int, note text))sql";
  both_sql(schema);
  target_sql("CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'trigger ran'; RETURN NEW; END $$;"
             "CREATE TRIGGER stamp BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION stamp()");
  source_sql(R"sql(
INSERT INTO a SELECT g, NULL FROM generate_series(1, 100) g;
INSERT INTO b SELECT g, g FROM generate_series(1, 100) g;
UPDATE a SET b_id = id;
INSERT INTO audit VALUES (1, 'original'))sql");
  // Into empty tables the cycle's foreign keys are deferred like the rest: no order is needed.
  auto deferred = copy({"-t", "public.a", "-t", "public.b"});
  ASSERT_EQ(deferred.exit_code, 0) << deferred.output;
  expect_same_contents("a");
  expect_same_contents("b");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated "
                         "AND conrelid IN ('a'::regclass, 'b'::regclass)"),
            "2")
      << "both foreign keys back, validated";
  target_sql("TRUNCATE a, b; DROP SCHEMA pgblit CASCADE");

  // Kept in place, no load order lets every row in.
  auto refused = copy({"--indexes", "keep"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("cycle"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--disable-triggers"), std::string::npos) << refused.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM a"), "0");

  auto run = copy({"--disable-triggers", "--indexes", "keep"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("a");
  expect_same_contents("b");
  expect_same_contents("audit");  // the trigger did not fire
}

}  // namespace
}  // namespace pgblit::test

namespace pgblit::test {
namespace {

// Found by a fixture written from the docs alone: a table that held rows keeps its foreign key
// to itself for the load, so split into chunks a row whose parent lies in a later chunk was
// refused (exit 1, the earlier chunks committed). Such a table loads in one COPY, in the copy
// and in the plan the dry run shows.
TEST_F(ForeignKeysTest, a_self_reference_kept_in_place_loads_a_row_before_its_parent) {
  const char* schema = "CREATE TABLE accounts (id int PRIMARY KEY, parent int REFERENCES accounts, pad text)";
  source_sql(schema);
  target_sql(schema);
  source_sql("INSERT INTO accounts SELECT g, CASE WHEN g < 1500 THEN 3001 - g END, repeat('x', 200) "
             "FROM generate_series(1, 3000) g; ANALYZE accounts");
  target_sql("INSERT INTO accounts VALUES (100000, NULL, 'the target''s own')");
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--on-existing", "append",
                          "--chunk-size", "64kB", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_EQ(nlohmann::json::parse(plan.output.substr(plan.output.find('{')))["chunks"].size(), 1u) << plan.output;
  auto run = copy({"--on-existing", "append", "--chunk-size", "64kB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("(SELECT * FROM accounts WHERE id <> 100000)", "(SELECT * FROM accounts WHERE id <> 100000)");
  EXPECT_EQ(target_value("SELECT count(*) FROM accounts a JOIN accounts p ON p.id = a.parent WHERE a.id < 1500 "
                         "AND p.id = 3001 - a.id"), "1499") << "each row points at the parent it had";
}

// plan and copy start as one (start::open_run, prefilled_tables, defer_for_load), so the chunks
// the dry run shows are the chunks the copy executes. With --on-existing truncate the target's
// rows go before the load: the foreign key to itself is deferred and the table split, in both
// (the dry run once kept it in place and showed one chunk where the copy loaded several); with
// append the key stays in place and the table goes whole, in both.
TEST_F(ForeignKeysTest, plan_shows_the_chunks_the_copy_executes_for_a_self_referencing_table) {
  const char* schema = "CREATE TABLE accounts (id int PRIMARY KEY, parent int REFERENCES accounts, pad text)";
  source_sql(schema);
  target_sql(schema);
  source_sql("INSERT INTO accounts SELECT g, CASE WHEN g < 1500 THEN 3001 - g END, repeat('x', 200) "
             "FROM generate_series(1, 3000) g; ANALYZE accounts");
  for (std::string on_existing : {"truncate", "append"}) {
    target_sql("TRUNCATE accounts; INSERT INTO accounts VALUES (100000, NULL, 'the target''s own')");
    auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--on-existing", on_existing,
                            "--chunk-size", "64kB", "--json"});
    ASSERT_EQ(plan.exit_code, 0) << plan.output;
    auto planned = nlohmann::json::parse(plan.output.substr(plan.output.find('{')));
    auto run = copy({"--on-existing", on_existing, "--chunk-size", "64kB"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    auto executed = target_value("SELECT count(*) FROM pgblit.chunks WHERE run_id = (SELECT max(id) FROM pgblit.runs)");
    EXPECT_EQ(std::to_string(planned["chunks"].size()), executed) << on_existing;
    EXPECT_EQ(planned["chunks"].size() > 1, on_existing == "truncate") << on_existing << ": " << plan.output;
    EXPECT_EQ(target_value("SELECT count(*) FROM accounts"), on_existing == "truncate" ? "3000" : "3001");
  }
}

}  // namespace
}  // namespace pgblit::test
