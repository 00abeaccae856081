// The mapping as typed rules, without a server: a file's column settings parse into what the
// planner turns into rules, one renderer turns rules into the statements every reader runs,
// and the plan keeps every rule through its JSON (a field the JSON forgets fails here).
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.hpp"
#include "mapping/mapping.hpp"
#include "plan/copy_sql.hpp"
#include "plan/plan.hpp"
#include "plan/sql_render.hpp"

namespace pgblit::plan {
namespace {

mapping::Mapping load(const std::string& yaml) {
  std::string file = "/tmp/pgblit-rules-test-" + std::to_string(::getpid()) + ".yaml";
  std::ofstream(file) << yaml;
  auto m = mapping::load_mapping(file);
  std::remove(file.c_str());
  return m;
}

mapping::NewKeys dense_keys() {
  return {.kind = "sequence", .source_table = "\"crm\".\"contacts\"", .target_table = "\"crm\".\"contacts\"",
          .source_column = "id", .target_column = "contact_id", .sequence = "crm.contacts_id_seq", .first = 1001,
          .count = 5, .runs = {{10, 3, 1001}, {40, 2, 1004}}, .salt = ""};
}

TEST(MappingRules, references_parse_and_need_a_column_of_keys) {
  auto m = load("version: 1\ntables:\n  crm.deals:\n    new_keys: sequence\n    columns:\n"
                "      contact_ids: {from: contact_ids, references: crm.contacts}\n");
  EXPECT_EQ(m.tables[0].columns.at("contact_ids").references, "crm.contacts");
  EXPECT_THROW(load("version: 1\ntables:\n  crm.deals:\n    columns:\n      c: {expr: \"1\", references: crm.contacts}\n"),
               Error);
  EXPECT_THROW(load("version: 1\ntables:\n  crm.deals:\n    columns:\n      c: {from: c, references: contacts}\n"), Error);
}

TEST(MappingRules, each_rule_renders_into_the_copy_statement) {
  TableCopy t;
  t.source = "\"crm\".\"deals\"";
  t.target = "\"crm\".\"opportunities\"";
  t.columns = {"opportunity_id", "title", "org", "stage", "score", "contact_id", "contact_ids"};
  t.filter = "\"org_id\" = 1";
  t.new_keys = dense_keys();
  t.new_keys.source_column = "id";
  t.column_rules = {
      {"opportunity_id", mapping::NewKey{"id", "pg_catalog.int4"}},
      {"title", mapping::PassThrough{"name"}},
      {"org", mapping::Cast{"org_id", "pg_catalog.int8", {{"1", "900"}}}},
      {"stage", mapping::ValueMap{"stage", "", {{"open", "active"}}, "null", "stage", "pg_catalog.text"}},
      {"score", mapping::Expression{"amount * 2", "numeric(10,2)"}, true},
      {"contact_id", mapping::Reference{"contact_id", "pg_catalog.int4", dense_keys()}},
      {"contact_ids", mapping::ReferenceArray{"contact_ids", "pg_catalog._int4", dense_keys()}},
  };
  auto sql = copy_out_sql(t, Chunk{.predicate = "\"id\" < 5"}, CopyFormat::Binary);
  EXPECT_TRUE(sql.starts_with("COPY (SELECT ")) << sql;
  EXPECT_NE(sql.find("\"name\" AS \"title\""), std::string::npos) << sql;
  EXPECT_NE(sql.find("(CASE WHEN \"org_id\" = '1' THEN '900' ELSE \"org_id\" END)::pg_catalog.int8 AS \"org\""),
            std::string::npos) << sql;
  EXPECT_NE(sql.find("WHEN 'open' THEN 'active' ELSE NULL END)::pg_catalog.text AS \"stage\""), std::string::npos) << sql;
  EXPECT_NE(sql.find("((amount * 2))::numeric(10,2) AS \"score\""), std::string::npos) << sql;
  // Dense keys: a binary search over the runs of old keys; unmoved keys give NULL.
  EXPECT_NE(sql.find("width_bucket"), std::string::npos) << sql;
  EXPECT_NE(sql.find("'{10,40}'::int8[]"), std::string::npos) << sql;
  EXPECT_NE(sql.find("unnest(\"contact_ids\") WITH ORDINALITY"), std::string::npos) << sql;
  EXPECT_NE(sql.find("ORDER BY pgblit_n) END)::pg_catalog._int4 AS \"contact_ids\""), std::string::npos) << sql;
  EXPECT_TRUE(sql.ends_with("FROM ONLY \"crm\".\"deals\" WHERE (\"id\" < 5) AND (\"org_id\" = 1)) TO STDOUT (FORMAT binary)"))
      << sql;
  auto scaled = rescaled(t);
  ASSERT_EQ(scaled.size(), 1u);
  EXPECT_EQ(scaled[0].expression, "(amount * 2)");
  EXPECT_EQ(scaled[0].type, "numeric(10,2)");
  // One run: plain arithmetic, bounded, so a key outside it gives NULL.
  mapping::NewKeys one{.kind = "sequence", .runs = {{10, 3, 1001}}};
  EXPECT_EQ(new_key_sql(one, "\"id\""),
            "CASE WHEN (\"id\")::int8 >= 10 AND (\"id\")::int8 < 13 THEN (\"id\")::int8 - 10 + 1001 END");
  EXPECT_EQ(new_key_sql(mapping::NewKeys{.kind = "sequence"}, "\"id\""), "NULL::int8");
}

// Every field set to something other than its default: a field the JSON forgets comes back
// as its default, and the comparison fails.
// The dry run reads a value map's `else: error` as NULL (it leaves those rows out and counts
// them apart); the copy's statement fails the row, naming the value.
TEST(MappingRules, a_value_maps_failing_branch_renders_as_null_for_the_checks) {
  TableCopy t;
  t.source = "\"crm\".\"deals\"";
  t.columns = {"stage"};
  t.column_rules = {{"stage", mapping::ValueMap{"", "lower(stage)", {{"open", "active"}}, "error", "stage", "pg_catalog.text"}}};
  auto copied = select_list(t);
  auto checked = select_list(t, Unmapped::as_null);
  ASSERT_EQ(checked.size(), 1u);
  EXPECT_NE(copied[0].find("'pgblit mapping: no value for '"), std::string::npos) << copied[0];
  EXPECT_EQ(checked[0], "(CASE ((lower(stage)))::text WHEN 'open' THEN 'active' ELSE NULL END)::pg_catalog.text AS \"stage\"");
  EXPECT_EQ(value_map_input_sql(std::get<mapping::ValueMap>(t.column_rules[0].source)), "((lower(stage)))::text");
}

TEST(MappingRules, the_plan_keeps_every_rule_through_its_json) {
  TableCopy t;
  t.source = "\"crm\".\"deals\"";
  t.target = "\"crm\".\"opportunities\"";
  t.target_partitioned = true;
  t.columns = {"a", "b", "c", "d", "e", "f", "g"};
  t.format = CopyFormat::Text;
  t.text_reason = "why";
  t.estimated_bytes = 7;
  t.estimated_rows = 8;
  t.depends_on = {3};
  t.key = {"id"};
  t.key_types = {"bigint"};
  t.key_nullable = true;
  t.key_fields = {0};
  t.key_index = "deals_pkey";
  t.verify_by_chunk = true;
  t.key_mapped = true;
  t.chunking = "histogram";
  t.column_rules = {{"a", mapping::NewKey{"id", "pg_catalog.int8"}, true},
                    {"b", mapping::PassThrough{"b"}},
                    {"c", mapping::Cast{"c0", "pg_catalog.bpchar", {{"1", "2"}}}, false, 5},
                    {"d", mapping::Expression{"lower(d)", "pg_catalog.text"}},
                    {"e", mapping::ValueMap{"", "e || ''", {{"x", "y"}}, "error", "e", "pg_catalog.text"}},
                    {"f", mapping::Reference{"f", "pg_catalog.int4", dense_keys()}},
                    {"g", mapping::ReferenceArray{"g", "pg_catalog._int4", dense_keys()}}};
  t.filter = "true";
  t.filter_reason = "its where";
  t.new_keys = dense_keys();
  t.new_keys.salt = "abc";
  t.new_keys.filter = "org_id = 1";
  t.query = "SELECT 1 AS id";
  Plan plan;
  plan.tables = {t};
  plan.chunks = {Chunk{0, "p", 10, {"1"}, {"5"}, true}};
  plan.schemas = {"crm"};
  plan.warnings = {"w"};
  auto back = plan_from_json(to_json(plan));
  ASSERT_EQ(back.tables.size(), 1u);
  EXPECT_TRUE(back.tables[0] == t) << to_json(back).dump(2);
  EXPECT_TRUE(back.chunks[0] == plan.chunks[0]);
  EXPECT_EQ(back.warnings, plan.warnings);
  EXPECT_EQ(back.schemas, plan.schemas);
}

// A char(n) target: the value read padded to n as the target stores it, never cut (a longer one
// goes as it is, for the target to refuse); not a rescale.
TEST(MappingRules, a_char_n_column_is_read_padded_to_n) {
  TableCopy t;
  t.source = "\"public\".\"codes\"";
  t.columns = {"id", "code"};
  t.column_rules = {{"id", mapping::PassThrough{"id"}}, {"code", mapping::Cast{"code", "pg_catalog.bpchar"}, false, 5}};
  std::string value = "((\"code\")::pg_catalog.bpchar)::text";
  EXPECT_EQ(column_value_sql(t, 1),
            "rpad(" + value + ", greatest(5, char_length(rtrim(" + value + "))))::pg_catalog.bpchar");
  EXPECT_EQ(select_list(t)[1], column_value_sql(t, 1) + " AS \"code\"");
  EXPECT_TRUE(rescaled(t).empty());
}

TEST(MappingRules, a_plan_without_its_version_is_refused_not_resumed) {
  auto json = to_json(Plan{});
  json.erase("plan_version");
  try {
    plan_from_json(json);
    FAIL() << "an older plan was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("older pgblit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgblit::plan
