// Tables of every shape: odd names, generated, identity and dropped columns, columns in
// another order, no key, no rows, no columns, inheritance.
#include "harness.hpp"

namespace pgblit::test {
namespace {

using SchemaShapesTest = DatabasePair;

TEST_F(SchemaShapesTest, quoted_and_unicode_identifiers) {
  both_sql(R"sql(CREATE SCHEMA "Sales Ünïcode";
CREATE TABLE "Sales Ünïcode"."Order ""Lines""" ("Line No" int PRIMARY KEY, "naïve col" text, "select" int, "CamelCase" bool))sql");
  source_sql(R"sql(INSERT INTO "Sales Ünïcode"."Order ""Lines""" SELECT g, 'ü' || g, g * 2, g % 2 = 0 FROM generate_series(1, 500) g)sql");
  auto run = copy({"-n", "\"Sales Ünïcode\""});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents(R"sql("Sales Ünïcode"."Order ""Lines""")sql");
}

TEST_F(SchemaShapesTest, columns_match_by_name_with_generated_identity_and_dropped_columns) {
  source_sql(R"sql(
CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, gone text, qty int, price numeric,
                    total numeric GENERATED ALWAYS AS (qty * price) STORED, note text);
ALTER TABLE items DROP COLUMN gone;
INSERT INTO items (qty, price, note) SELECT g, g / 3.0, 'n' || g FROM generate_series(1, 1000) g;
DELETE FROM items WHERE id % 7 = 0)sql");
  target_sql(R"sql(
CREATE TABLE items (note text, price numeric, total numeric GENERATED ALWAYS AS (qty * price) STORED,
                    qty int, id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, added_later text DEFAULT 'x'))sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("(SELECT id, qty, price, total, note FROM items)");
  EXPECT_EQ(target_value("SELECT count(*) FROM items WHERE added_later = 'x'"), "858");
}

TEST_F(SchemaShapesTest, keyless_empty_and_zero_column_tables) {
  both_sql(R"sql(CREATE TABLE log_lines (at timestamptz, line text);
CREATE TABLE nothing_yet (id int PRIMARY KEY, v text);
CREATE TABLE no_columns ())sql");
  source_sql(R"sql(INSERT INTO log_lines SELECT now(), 'same line' FROM generate_series(1, 3000);
INSERT INTO no_columns SELECT FROM generate_series(1, 17))sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("log_lines");
  EXPECT_EQ(target_value("SELECT count(*) FROM nothing_yet"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM no_columns"), "17");
}

TEST_F(SchemaShapesTest, inheritance_copies_each_row_once) {
  both_sql(R"sql(CREATE TABLE vehicles (id int, name text);
CREATE TABLE cars (doors int) INHERITS (vehicles);
CREATE TABLE trucks (axles int) INHERITS (vehicles))sql");
  source_sql(R"sql(INSERT INTO vehicles SELECT g, 'v' || g FROM generate_series(1, 100) g;
INSERT INTO cars SELECT g, 'c' || g, 4 FROM generate_series(101, 250) g;
INSERT INTO trucks SELECT g, 't' || g, 3 FROM generate_series(251, 300) g)sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_contents("ONLY vehicles");
  expect_same_contents("cars");
  expect_same_contents("trucks");
  EXPECT_EQ(target_value("SELECT count(*) FROM vehicles"), "300");
}

TEST_F(SchemaShapesTest, selection_flags_pick_and_exclude_tables) {
  both_sql(R"sql(CREATE SCHEMA a; CREATE SCHEMA b;
CREATE TABLE a.keep1 (x int); CREATE TABLE a.keep2 (x int); CREATE TABLE a.skip (x int); CREATE TABLE b.other (x int))sql");
  source_sql(R"sql(INSERT INTO a.keep1 VALUES (1); INSERT INTO a.keep2 VALUES (2); INSERT INTO a.skip VALUES (3);
INSERT INTO b.other VALUES (4))sql");
  auto run = copy({"-n", "a", "-T", "a.sk*"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT (SELECT count(*) FROM a.keep1) + (SELECT count(*) FROM a.keep2)"), "2");
  EXPECT_EQ(target_value("SELECT (SELECT count(*) FROM a.skip) + (SELECT count(*) FROM b.other)"), "0");
  run = copy({"-t", "b.oth?r"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM b.other"), "1");
}

}  // namespace
}  // namespace pgblit::test
