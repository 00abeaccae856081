// Values of every kind survive the copy byte for byte, in binary where the binary form is
// portable and as text where it embeds type OIDs that differ between the clusters.
#include "harness.hpp"

namespace pgblit::test {
namespace {

using TypesTest = DatabasePair;

TEST_F(TypesTest, builtin_types_and_special_values_copy_exactly_in_binary) {
  both_sql(R"sql(
CREATE TABLE builtins (
  id int PRIMARY KEY, n numeric, n2 numeric(10,2), f8 float8, f4 real, ts timestamp, tstz timestamptz, d date,
  iv interval, b bytea, j jsonb, js json, ia int[], ta text[], nested int[], r int4range, tr tstzrange,
  mr int4multirange, tv tsvector, u uuid, bo boolean, ip inet, bits varbit, c char(3), vc varchar(10),
  pt point, x xml, t text))sql");
  source_sql(R"sql(
INSERT INTO builtins VALUES
 (1, 'NaN', 1.50, 'NaN', '-0', 'infinity', '-infinity', 'infinity', '1 year 2 mons -3 days 04:05:06.789',
  '\x00ff10', '{"a": [1, 2.50, null], "b": {"c": "ü"}}', '{"keep":  "spacing" }', '{1,NULL,3}', '{"a b","",NULL,"q\"uote"}',
  '{{1,2},{3,4}}', '[1,10)', '[2024-01-01 00:00+00,infinity)', '{[1,3),[5,9)}', 'fat:1A cat:2 rat', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  true, '192.168.1.0/24', B'10101', 'ab', 'vårchar', '(1.5,-2)', '<a x="1">t</a>', E'tab\there\nnewline \\ backslash'),
 (2, '-1.000', -0.01, '-0', 'Infinity', '2000-02-29 23:59:59.999999', '1999-12-31 23:59:59.5+05:30', '-infinity', '0',
  '', '[]', 'null', '{}', '{}', '{}', 'empty', '(,)', '{}', '', '00000000-0000-0000-0000-000000000000',
  false, '::1', B'', '', '', '(0,0)', '<r/>', ''),
 (3, '123456789012345678901234567890.123456789', 99999999.99, '-Infinity', '3.4028235e38', '4713-01-01 00:00 BC',
  '294276-12-31 23:59:59+00', '5874897-12-31', '-178000000 years', '\x', '1e400', '"x"', '{-2147483648}', '{"😀"}',
  '{{NULL}}', '(,5]', '[2000-01-01,2000-01-02]', '{(,)}', 'a:1,2,3', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  NULL, '10.0.0.1', B'1', 'xyz', 'ten chars!', '(1e-300,1e300)', NULL, repeat('long ', 10000)),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find("goes as text"), std::string::npos) << run.output;
  expect_same_contents("builtins");
  // Text forms hide some differences; these compare the values themselves.
  EXPECT_EQ(target_value("SELECT f4::text FROM builtins WHERE id = 1"), "-0");
  EXPECT_EQ(target_value("SELECT n2::text FROM builtins WHERE id = 1"), "1.50");
  EXPECT_EQ(target_value("SELECT string_agg(n::text, ',' ORDER BY id) FROM builtins"),
            "NaN,-1.000,123456789012345678901234567890.123456789");
}

TEST_F(TypesTest, user_defined_types_in_arrays_and_composites_fall_back_to_text) {
  // A type created first on the target shifts its OIDs, so binary arrays of enums would be refused.
  target_sql("CREATE TYPE shift_oids AS ENUM ('x'); CREATE TABLE shift_more (a int)");
  both_sql(R"sql(
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TYPE mood_pair AS (m mood, n numeric);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE custom (id int PRIMARY KEY, m mood, ma mood[], p pair, pa pair[], mp mood_pair, dom positive, doma positive[]);
CREATE TABLE plain_enum (id int PRIMARY KEY, m mood, p pair, dom positive))sql");
  source_sql(R"sql(
INSERT INTO custom VALUES
 (1, 'happy', '{sad,ok}', '(1,"a b")', '{"(2,x)","(,)"}', '(ok,1.5)', 7, '{1,2}'),
 (2, NULL, '{}', NULL, NULL, '(,)', NULL, NULL),
 (3, 'sad', '{NULL,happy}', '(,)', '{NULL}', NULL, 1, '{}');
INSERT INTO plain_enum VALUES (1, 'ok', '(5,"z")', 3), (2, NULL, NULL, NULL))sql");
  auto run = copy();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("\"public\".\"custom\" goes as text"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("\"public\".\"plain_enum\" goes as text"), std::string::npos) << run.output;
  expect_same_contents("custom");
  expect_same_contents("plain_enum");
}

}  // namespace
}  // namespace pgblit::test
