// --mapping: one organization's deals move into another project's opportunities, renamed,
// filtered, with mapped values, a new organization id and new-only columns from defaults; the
// dry run counts on the mapped rows; verify --mapping compares the target to the mapped source
// and names a tampered row; a bad mapping file is named by line and column, and nothing is
// written.
#include <filesystem>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class MappingTest : public DatabasePair {
 protected:
  // Organization 1's deals merged into the opportunities with new keys, their notes following;
  // `notes_entry`: more of the notes' entry.
  void write_merge_mapping(const std::string& notes_entry = "") {
    write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    where: \"org_id = 1\"\n"
          "    new_keys: sequence\n    columns:\n      title: name\n      policy: policy_type\n    drop: [legacy]\n"
          "  crm.notes:\n    where: \"deal_id IN (SELECT id FROM crm.deals WHERE org_id = 1)\"\n" +
          notes_entry + "  crm.audit: skip\n");
  }
  // The target already holds another tenant (org 7: 50 opportunities, keys 1 to 50, from the
  // table's own sequence) under the keys a merge would collide with.
  void hold_another_tenant() {
    target_sql(R"(
CREATE SEQUENCE crm.opportunities_id_seq OWNED BY crm.opportunities.id;
ALTER TABLE crm.opportunities ALTER COLUMN id SET DEFAULT nextval('crm.opportunities_id_seq');
INSERT INTO crm.opportunities (title, org_id) SELECT 'theirs ' || g, 7 FROM generate_series(1, 50) g;)");
  }

  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(R"(
CREATE SCHEMA crm;
CREATE TABLE crm.deals (id int PRIMARY KEY, name text, email text, policy_type text, org_id int, legacy text);
INSERT INTO crm.deals SELECT g, 'Deal ' || g, 'Person' || g || '@Example.COM',
       (ARRAY['manufacturer', 'extended', 'service_plan', 'other'])[g % 4 + 1], g % 2 + 1, 'old'
FROM generate_series(1, 4000) g;
CREATE TABLE crm.notes (id int PRIMARY KEY, deal_id int REFERENCES crm.deals, body text);
INSERT INTO crm.notes SELECT g, g % 4000 + 1, 'note ' || g FROM generate_series(1, 6000) g;
CREATE TABLE crm.audit (id int, what text);
INSERT INTO crm.audit VALUES (1, 'not moved');
ANALYZE)");
    target_sql(R"(
CREATE SCHEMA crm;
CREATE TABLE crm.opportunities (id int PRIMARY KEY, title text NOT NULL, email text, policy text, org_id int,
                                created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.notes (id int PRIMARY KEY, deal_id int REFERENCES crm.opportunities, body text);)");
    file_ = "/tmp/pgblit-mapping-" + db_ + ".yaml";
    write(R"yaml(version: 1
tables:
  crm.deals:
    target: crm.opportunities
    where: "org_id = 1"
    columns:
      title: {from: name}
      email: {expr: "lower(email)"}
      policy: {from: policy_type, map: {manufacturer: inverter_manufacturer, extended: battery_performance, service_plan: installation_workmanship}, else: keep}
      org_id: {expr: "100"}
    drop: [legacy]
  crm.notes:
    where: "deal_id IN (SELECT id FROM crm.deals WHERE org_id = 1)"
  crm.audit: skip
)yaml");
  }
  void TearDown() override { std::remove(file_.c_str()); }
  void write(const std::string& text) { std::ofstream(file_) << text; }
  std::vector<std::string> with_mapping(std::vector<std::string> args) {
    args.insert(args.end(), {"--source", source_url(), "--target", target_url(), "--mapping", file_});
    return args;
  }
  std::string file_;
};

TEST_F(MappingTest, one_organization_moves_renamed_filtered_and_mapped_and_verifies) {
  auto run = copy({"--mapping", file_, "-n", "crm"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE org_id <> 100"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE email <> lower(email)"), "0");
  EXPECT_EQ(target_value("SELECT title FROM crm.opportunities WHERE id = 2"), "Deal 2");
  EXPECT_EQ(target_value("SELECT string_agg(DISTINCT policy, ',' ORDER BY policy) FROM crm.opportunities"),
            "installation_workmanship,inverter_manufacturer");  // org 1's deals are manufacturer and service_plan
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE created_at IS NULL"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes"),
            source_value("SELECT count(*) FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id WHERE d.org_id = 1"));
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_tables WHERE schemaname = 'crm' AND tablename = 'audit'"), "0");
  auto verified = run_pgblit(with_mapping({"verify", "-n", "crm"}));
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  target_sql("UPDATE crm.opportunities SET title = 'tampered' WHERE id = 42");
  auto tampered = run_pgblit(with_mapping({"verify", "-n", "crm"}));
  EXPECT_EQ(tampered.exit_code, 3) << tampered.output;
  EXPECT_TRUE(mentions(tampered, "changed: 42")) << tampered.output;
}

// A run-wide scope: tables with the column keep the tenant's rows, the others their rows whose
// parent is kept, through the source's foreign keys; the plan says which and why.
TEST_F(MappingTest, a_scope_follows_foreign_keys_to_tables_without_the_column) {
  write(R"yaml(version: 1
scope: {column: org_id, value: "1"}
tables:
  crm.deals:
    target: crm.opportunities
    columns:
      title: name
      policy: policy_type
    drop: [legacy]
  crm.audit: skip
)yaml");
  auto plan = run_pgblit(with_mapping({"plan", "-n", "crm"}));
  EXPECT_TRUE(mentions(plan, "scope: rows whose parent is kept, through foreign key notes_deal_id_fkey")) << plan.output;
  auto run = copy({"--mapping", file_, "-n", "crm"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes"),
            source_value("SELECT count(*) FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id WHERE d.org_id = 1"));
  auto verified = run_pgblit(with_mapping({"verify", "-n", "crm"}));
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
}

// A tenant's new id, in every column that holds it: the tables the mapping names and the
// others alike, foreign-key columns too.
TEST_F(MappingTest, a_constant_remap_reaches_every_column_of_its_names) {
  source_sql("ALTER TABLE crm.notes ADD COLUMN org_id int; UPDATE crm.notes SET org_id = 1 WHERE id <= 10");
  target_sql("ALTER TABLE crm.notes ADD COLUMN org_id int");
  write(R"yaml(version: 1
remap: [{columns: [org_id], from: "1", to: "100"}]
tables:
  crm.deals:
    target: crm.opportunities
    columns:
      title: name
      policy: policy_type
    drop: [legacy]
  crm.audit: skip
)yaml");
  auto run = copy({"--mapping", file_, "-n", "crm"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE org_id = 100"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE org_id = 2"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes WHERE org_id = 100"), "10");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes WHERE org_id = 1"), "0");
  auto verified = run_pgblit(with_mapping({"verify", "-n", "crm"}));
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
}

// A remap reaches a column a rename feeds, named by either name; one a column's own expression
// feeds is refused as ambiguous, never skipped.
TEST_F(MappingTest, a_remap_reaches_a_renamed_column_and_refuses_an_ambiguous_one) {
  source_sql("ALTER TABLE crm.notes ADD COLUMN company_id int; UPDATE crm.notes SET company_id = 1 WHERE id <= 10");
  target_sql("ALTER TABLE crm.notes ADD COLUMN organization_id int");
  std::string tables = R"yaml(tables:
  crm.deals:
    target: crm.opportunities
    columns:
      title: name
      policy: policy_type
    drop: [legacy]
  crm.audit: skip
  crm.notes:
    columns:
)yaml";
  write("version: 1\nremap: [{columns: [organization_id], from: \"1\", to: \"100\"}]\n" + tables +
        "      organization_id: {from: company_id}\n");
  auto run = copy({"--mapping", file_, "-n", "crm"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes WHERE organization_id = 100"), "10");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes WHERE organization_id = 1"), "0");

  write("version: 1\nremap: [{columns: [organization_id], from: \"1\", to: \"100\"}]\n" + tables +
        "      organization_id: {expr: \"company_id\"}\n    drop: [company_id]\n");
  auto refused = copy({"--mapping", file_, "-n", "crm", "--on-existing", "truncate"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "has an expression or value map of its own, and a 'remap' names it")) << refused.output;
}

// A merge's references follow whatever the target calls them and whatever their type there:
// checked by what each moved note points at (its deal's name), not by ids.
TEST_F(MappingTest, a_merge_rewrites_renamed_and_retyped_foreign_key_columns) {
  target_sql("DROP TABLE crm.notes;"
             "CREATE TABLE crm.notes (id int PRIMARY KEY, opportunity_id bigint REFERENCES crm.opportunities, body text)");
  hold_another_tenant();
  write_merge_mapping("    columns:\n      opportunity_id: {from: deal_id}\n");
  auto run = copy({"--mapping", file_, "-n", "crm", "--on-existing", "append"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto moved = source_value("SELECT string_agg(n.id || ':' || d.name, ',' ORDER BY n.id) FROM crm.notes n "
                            "JOIN crm.deals d ON d.id = n.deal_id WHERE d.org_id = 1");
  EXPECT_EQ(target_value("SELECT string_agg(n.id || ':' || o.title, ',' ORDER BY n.id) FROM crm.notes n "
                         "JOIN crm.opportunities o ON o.id = n.opportunity_id"),
            moved)
      << "every moved note points at the opportunity its deal became";
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes n JOIN crm.opportunities o ON o.id = n.opportunity_id "
                         "WHERE o.org_id = 7"),
            "0")
      << "no note points at the other tenant";
}

// Merging into a target that holds another tenant with colliding keys: the copied rows take
// keys above the target's, the notes follow them, the other tenant is untouched, and the
// target's sequence moves past the block taken.
TEST_F(MappingTest, merged_rows_take_new_keys_and_their_foreign_keys_follow) {
  hold_another_tenant();
  write_merge_mapping();
  // Killed once the opportunities are in and the notes wait (for our lock), then resumed: the
  // resumed run rewrites keys by the rule kept with it, so nothing is lost or doubled.
  auto holder = pg::Connection::open(target_url(), "holder");
  holder.exec("BEGIN; LOCK TABLE crm.notes IN SHARE MODE");
  PgblitProcess killed(copy_args({"--mapping", file_, "-n", "crm", "--on-existing", "append", "--indexes", "keep"}));
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'crm.notes'::regclass") != "0";
  })) << killed.output_so_far();
  killed.kill_now();
  killed.wait();
  holder.exec("COMMIT");
  auto run = run_pgblit({"copy", "--resume", "--source", source_url(), "--target", target_url()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "2050");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE org_id = 7 AND id <= 50"), "50") << "theirs stay";
  // Old keys 2, 4, ..., 4000 became 51, 52, ..., 2050: dense, in source key order.
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE org_id = 1 AND title = 'Deal ' || ((id - 50) * 2)"),
            "2000");
  auto notes = source_value("SELECT count(*) FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id WHERE d.org_id = 1");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes n JOIN crm.opportunities o ON o.id = n.deal_id "
                         "WHERE o.org_id = 1 AND o.id = n.deal_id"),
            notes);
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.notes"), notes) << "no note doubled";
  EXPECT_GE(std::stoll(target_value("SELECT last_value FROM crm.opportunities_id_seq")), 2050);
  EXPECT_NE(target_value("SELECT plan::text FROM pgblit.runs WHERE id = 1").find("\"runs\""), std::string::npos)
      << "the rule is kept with the run";
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.key_map WHERE run_id = 1 AND new_key::int = old_key::int / 2 + 50"),
            "2000") << "the old -> new map, once, after the resume";
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.key_map"), "2000");
}

TEST_F(MappingTest, the_dry_run_counts_on_the_mapped_rows) {
  source_sql("UPDATE crm.deals SET name = NULL WHERE id IN (2, 4, 5)");  // 2 and 4 are org 1's; 5 is not moved
  auto plan = run_pgblit(with_mapping({"plan", "-n", "crm", "--json"}));
  auto json = nlohmann::json::parse(plan.output.substr(plan.output.find('{')));
  int64_t not_null = 0;
  for (const auto& f : json["dry_run"]["findings"]) {
    if (f["check"] == "not null") not_null += f["rows"].get<int64_t>();
  }
  EXPECT_EQ(not_null, 2) << json["dry_run"].dump(1);
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "0");
}

// Values a value map lacks are counted on the source rows the run reads; a filter that selects
// nothing is said, and no-go when no filtered table has a row (a scope value mistyped).
TEST_F(MappingTest, the_dry_run_counts_values_the_map_lacks_and_filters_that_select_nothing) {
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    where: \"org_id = 1\"\n"
        "    columns:\n      title: {from: name}\n      policy: {from: policy_type, map: {manufacturer: m}, else: error}\n"
        "    drop: [legacy]\n  crm.notes:\n    where: \"deal_id < 0\"\n  crm.audit: skip\n");
  auto findings = [&](const RunResult& r) {
    return nlohmann::json::parse(r.output.substr(r.output.find('{')))["dry_run"];
  };
  auto plan = run_pgblit(with_mapping({"plan", "-n", "crm", "--json", "--estimate-seconds", "0"}));
  auto dry = findings(plan);
  bool uncovered = false, empty = false;
  for (const auto& f : dry["findings"]) {
    if (f["check"] == "value map") {
      uncovered = true;
      EXPECT_EQ(f["severity"], "warning");
      EXPECT_EQ(f["rows"], 1000) << "org 1's service_plan deals";  // even ids: manufacturer or service_plan
      EXPECT_EQ(f["example"], "service_plan");
    }
    if (f["check"] == "filter") {
      empty = true;
      EXPECT_EQ(f["severity"], "info");
      EXPECT_NE(f["message"].get<std::string>().find("crm\".\"notes"), std::string::npos) << f.dump();
    }
  }
  EXPECT_TRUE(uncovered && empty) << dry.dump(1);
  EXPECT_EQ(dry["go"], false) << "1000 of 2000 rows fail";

  write("version: 1\nscope: {column: org_id, value: \"17\"}\ntables:\n  crm.deals:\n    target: crm.opportunities\n"
        "    columns:\n      title: {from: name}\n      policy: {from: policy_type}\n    drop: [legacy]\n"
        "  crm.audit: skip\n");
  auto mistyped = run_pgblit(with_mapping({"plan", "-n", "crm", "--json", "--estimate-seconds", "0"}));
  EXPECT_EQ(mistyped.exit_code, 5) << mistyped.output;
  bool nothing = false;
  auto mistyped_dry = findings(mistyped);
  for (const auto& f : mistyped_dry["findings"]) {
    nothing |= f["check"] == "filter" && f["severity"] == "error";
  }
  EXPECT_TRUE(nothing) << mistyped.output;
}

// A mapped copy's spool holds the mapped rows: restored, they are the target's again, and
// verify --spool compares them (a table whose key the mapping computed, whole).
TEST_F(MappingTest, a_mapped_copy_spools_the_mapped_rows_and_restores_them) {
  auto spool = std::filesystem::temp_directory_path() / ("pgblit-mapped-spool-" + db_);
  std::filesystem::remove_all(spool);
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    where: \"org_id = 1\"\n"
        "    columns:\n      id: {expr: \"id + 100000\"}\n      title: {from: name}\n"
        "      policy: {from: policy_type, map: {manufacturer: inverter_manufacturer}, else: keep}\n"
        "    drop: [legacy]\n  crm.notes: skip\n  crm.audit: skip\n");
  auto run = copy({"--mapping", file_, "-n", "crm", "--spool", spool.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  target_sql("TRUNCATE crm.notes, crm.opportunities");
  auto restore = run_pgblit({"restore", "--spool", spool.string(), "--target", target_url()});
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE id > 100000 AND org_id = 1"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities WHERE policy = 'manufacturer'"), "0");
  auto checked = run_pgblit({"verify", "--spool", spool.string(), "--target", target_url()});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  target_sql("UPDATE crm.opportunities SET title = 'tampered' WHERE id = 100002");
  auto tampered = run_pgblit({"verify", "--spool", spool.string(), "--target", target_url()});
  EXPECT_EQ(tampered.exit_code, 3) << tampered.output;
  EXPECT_TRUE(mentions(tampered, "its key is mapped: compared whole")) << tampered.output;
  std::filesystem::remove_all(spool);
}

// A backup takes a mapping's row selection (one tenant's rows), and refuses what would reshape
// them, naming the line.
TEST_F(MappingTest, a_backup_keeps_one_tenants_rows_by_the_mappings_scope) {
  auto spool = std::filesystem::temp_directory_path() / ("pgblit-scoped-backup-" + db_);
  std::filesystem::remove_all(spool);
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n");
  auto reshaping = run_pgblit({"backup", "--source", source_url(), "--spool", spool.string(), "-n", "crm",
                               "--mapping", file_});
  EXPECT_EQ(reshaping.exit_code, 2) << reshaping.output;
  EXPECT_TRUE(mentions(reshaping, ".yaml:3:3")) << reshaping.output;
  EXPECT_TRUE(mentions(reshaping, "'target' does not apply")) << reshaping.output;
  EXPECT_FALSE(std::filesystem::exists(spool / "manifest.json"));
  std::filesystem::remove_all(spool);

  write("version: 1\nscope: {column: org_id, value: \"1\"}\ntables:\n  crm.audit: skip\n");
  auto backup = run_pgblit({"backup", "--source", source_url(), "--spool", spool.string(), "-n", "crm",
                            "--mapping", file_});
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  target_sql("CREATE TABLE crm.deals (id int PRIMARY KEY, name text, email text, policy_type text, org_id int, legacy text)");
  auto restore = run_pgblit({"restore", "--spool", spool.string(), "--target", target_url(), "-t", "crm.deals"});
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.deals"), "2000");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.deals WHERE org_id <> 1"), "0");
  std::filesystem::remove_all(spool);
}

TEST_F(MappingTest, a_bad_mapping_is_named_by_line_and_column_and_nothing_is_written) {
  write("version: 1\ntables:\n  crm.deals:\n    colums: {}\n");
  auto unknown = copy({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_TRUE(mentions(unknown, ".yaml:4:5")) << unknown.output;
  EXPECT_TRUE(mentions(unknown, "unknown key 'colums'")) << unknown.output;
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    columns:\n      title: {from: name}\n"
        "      email: {expr: \"lower(emial)\"}\n    drop: [legacy, policy_type]\n  crm.audit: skip\n");
  auto broken = copy({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_TRUE(mentions(broken, "does not run on the source")) << broken.output;
  EXPECT_TRUE(mentions(broken, "emial")) << broken.output;
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    columns:\n      title: {from: nme}\n"
        "    drop: [legacy]\n  crm.audit: skip\n");
  auto missing = copy({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(mentions(missing, "'from' names column \"nme\"")) << missing.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "0");
}

// Without --max-rejects such a copy could only fail: it is refused before anything is written
// (mapping_safety_test.cpp pins that nothing is dropped either).
TEST_F(MappingTest, a_value_the_map_lacks_is_refused_before_the_copy_when_else_is_error) {
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    columns:\n      title: {from: name}\n"
        "      policy: {from: policy_type, map: {manufacturer: m}, else: error}\n    drop: [legacy]\n"
        "  crm.notes: skip\n  crm.audit: skip\n");
  auto run = copy({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, ".yaml:7:15: the value map of column \"policy\" of \"crm\".\"opportunities\" has no value for"))
      << run.output;
  EXPECT_TRUE(mentions(run, "says else: error")) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

// An expression that fails on some source rows: the chunk fails naming the first such row's
// key and the expression; with --max-rejects those rows are set aside and the rest loaded.
TEST_F(MappingTest, rows_an_expression_fails_on_are_named_or_set_aside) {
  write("version: 1\ntables:\n  crm.deals:\n    target: crm.opportunities\n    where: \"org_id = 1\"\n"
        "    columns:\n      title: {expr: \"name || (100 / (id % 1000))\"}\n      policy: policy_type\n"
        "    drop: [legacy, name]\n  crm.notes: skip\n  crm.audit: skip\n");
  auto failed = copy({"--mapping", file_, "-n", "crm"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_TRUE(mentions(failed, "fails on the source row with key 1000: column \"title\" = ((name || (100 / (id % 1000))))")) << failed.output;
  EXPECT_TRUE(mentions(failed, "division by zero")) << failed.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "0");
  // The failed run's dropped key comes back before its run goes (a new run would refuse).
  auto cleaned = run_pgblit({"clean", "--target", target_url(), "--all", "--restore-objects", "--yes"});
  ASSERT_EQ(cleaned.exit_code, 0) << cleaned.output;

  auto dir = std::filesystem::temp_directory_path() / ("pgblit-unmappable-" + db_);
  std::filesystem::remove_all(dir);
  auto set_aside = copy({"--mapping", file_, "-n", "crm", "--max-rejects", "10", "--rejects-dir", dir.string()});
  EXPECT_EQ(set_aside.exit_code, 4) << set_aside.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.opportunities"), "1996");  // ids 1000, 2000, 3000, 4000 left out
  std::string rejects;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    rejects += slurp(f.path());
  }
  for (const char* key : {"key 1000)", "key 2000)", "key 3000)", "key 4000)"}) {
    EXPECT_NE(rejects.find(key), std::string::npos) << key << " in " << rejects;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgblit::test
