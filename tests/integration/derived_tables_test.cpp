// Several target tables from one source table (docs/mapping.md, "Several target tables from one
// source table"): contacts is copied to contacts and, beside it, makes a junction
// contact_organizations from its company_id. The junction is checked by what each row means
// (the contact's email and the organization's name), against the same pairs computed in plain
// SQL on the source; a merge whose contacts take new keys has the junction follow them, also
// after a SIGKILL and a resume; verify compares the junction and names a row planted wrong.
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

constexpr const char* kSource = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.contacts (id bigserial PRIMARY KEY, company_id int REFERENCES crm.organizations,
                           email text NOT NULL UNIQUE, padding text);
INSERT INTO crm.organizations (name) SELECT 'org ' || g FROM generate_series(1, 20) g;
-- Every third contact has no company: no junction row for it.
INSERT INTO crm.contacts (company_id, email, padding)
  SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE 1 + g % 20 END, 'c' || g || '@example.org', repeat('p', 800)
  FROM generate_series(1, 600) g;
ANALYZE;)";

// The target keeps companies in a junction, not in contacts.
constexpr const char* kTargetTables = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.contacts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, padding text);
CREATE TABLE crm.contact_organizations (contact_id bigint NOT NULL REFERENCES crm.contacts,
                                        organization_id int NOT NULL REFERENCES crm.organizations,
                                        is_primary boolean NOT NULL, PRIMARY KEY (contact_id, organization_id));)";

constexpr const char* kMapping = R"yaml(version: 1
tables:
  crm.contacts:
    - target: crm.contacts
    - target: crm.contact_organizations
      where: "company_id IS NOT NULL"
      columns:
        contact_id: {from: id}
        organization_id: {from: company_id}
        is_primary: {expr: "true"}
)yaml";

// The same, merging: the target holds another tenant's contacts under the same keys, so the
// moved contacts take new keys and the junction's contact_id follows them.
constexpr const char* kMergeMapping = R"yaml(version: 1
tables:
  crm.organizations: skip
  crm.contacts:
    - {new_keys: sequence}
    - target: crm.contact_organizations
      where: "company_id IS NOT NULL"
      columns:
        contact_id: {from: id}
        organization_id: {from: company_id}
        is_primary: {expr: "true"}
)yaml";

// What the junction means, as text: one "email -> organization" line per row.
constexpr const char* kSourcePairs = R"(
SELECT count(*) || ' ' || md5(string_agg(c.email || ' -> ' || o.name || ' primary', E'\n' ORDER BY c.email))
FROM crm.contacts c JOIN crm.organizations o ON o.id = c.company_id)";
constexpr const char* kTargetPairs = R"(
SELECT count(*) || ' ' || md5(string_agg(c.email || ' -> ' || o.name || CASE WHEN j.is_primary THEN ' primary' ELSE '' END,
                                         E'\n' ORDER BY c.email))
FROM crm.contact_organizations j JOIN crm.contacts c ON c.id = j.contact_id JOIN crm.organizations o ON o.id = j.organization_id)";

// A directory filled from a join: one row per contact with a company, its organization by name.
constexpr const char* kDirectory = R"(
CREATE TABLE crm.contact_directory (contact_id bigint PRIMARY KEY, email text NOT NULL, organization text NOT NULL,
                                    padding text);)";
constexpr const char* kQueryMapping = R"yaml(version: 1
tables:
  crm.organizations: skip
  crm.contacts: skip
queries:
  crm.contact_directory:
    query: "SELECT c.id AS contact_id, c.email, o.name AS organization, c.padding
            FROM crm.contacts c JOIN crm.organizations o ON o.id = c.company_id"
    key: contact_id
)yaml";
constexpr const char* kSourceDirectory = R"(
SELECT count(*) || ' ' || md5(string_agg(c.email || ' at ' || o.name || ' ' || md5(c.padding), E'\n' ORDER BY c.email))
FROM crm.contacts c JOIN crm.organizations o ON o.id = c.company_id)";
constexpr const char* kTargetDirectory = R"(
SELECT count(*) || ' ' || md5(string_agg(email || ' at ' || organization || ' ' || md5(padding), E'\n' ORDER BY email))
FROM crm.contact_directory)";

class DerivedTablesTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(kSource);
    target_sql(kTargetTables);
    file_ = "/tmp/pgblit-derived-" + db_ + ".yaml";
  }
  void TearDown() override { std::remove(file_.c_str()); }
  void write_mapping(const char* text) { std::ofstream(file_) << text; }
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> out = copy_args({"--mapping", file_, "-n", "crm", "--chunk-size", "64kB", "-j", "1"});
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }
  // `pgblit COMMAND` (plan, verify) of this mapping and schema.
  RunResult with_mapping(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{command, "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "crm"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_pgblit(a);
  }
  RunResult verify() { return with_mapping("verify"); }
  std::string file_;
};

TEST_F(DerivedTablesTest, a_junction_made_from_a_column_holds_each_contacts_organization) {
  write_mapping(kMapping);
  auto plan = with_mapping("plan");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  auto run = run_pgblit(args());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE target_table = '\"crm\".\"contact_organizations\"'")), 1)
      << "the junction is chunked like its source";
  EXPECT_EQ(target_value(kTargetPairs), source_value(kSourcePairs));
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contact_organizations"), "400");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contacts"), "600");
  expect_same_contents("(SELECT id, email, padding FROM crm.contacts)", "crm.contacts");

  auto clean = verify();
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_FALSE(mentions(clean, "not compared")) << clean.output;
  // A junction row pointing at another organization: a difference.
  target_sql("UPDATE crm.contact_organizations SET organization_id = organization_id % 20 + 1 WHERE contact_id = 2");
  auto wrong = verify();
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_TRUE(mentions(wrong, "contact_organizations")) << wrong.output;
}

TEST_F(DerivedTablesTest, the_dry_run_checks_a_junctions_rows_against_its_constraints) {
  // Without its where, contacts without a company give junction rows with a NULL organization.
  std::string without_where = kMapping;
  without_where.erase(without_where.find("      where: "), std::string("      where: \"company_id IS NOT NULL\"\n").size());
  write_mapping(without_where.c_str());
  auto plan = with_mapping("plan");
  EXPECT_EQ(plan.exit_code, 5) << plan.output;
  EXPECT_TRUE(mentions(plan, "[not null] \"crm\".\"contact_organizations\".\"organization_id\"")) << plan.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contacts"), "0");
}

TEST_F(DerivedTablesTest, a_table_filled_from_a_join_is_chunked_copied_and_verified) {
  target_sql(kDirectory);
  // A LEFT JOIN would leave contacts without a company with a NULL organization: no-go.
  std::string left = kQueryMapping;
  left.replace(left.find(" JOIN "), 6, " LEFT JOIN ");
  write_mapping(left.c_str());
  auto plan = with_mapping("plan");
  EXPECT_EQ(plan.exit_code, 5) << plan.output;
  EXPECT_TRUE(mentions(plan, "[not null] \"crm\".\"contact_directory\".\"organization\"")) << plan.output;

  write_mapping(kQueryMapping);
  plan = with_mapping("plan");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  auto run = run_pgblit(args());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(std::stoi(target_value("SELECT count(*) FROM pgblit.chunks WHERE target_table = '\"crm\".\"contact_directory\"'")), 2)
      << "chunked by ranges of its key";
  EXPECT_EQ(target_value(kTargetDirectory), source_value(kSourceDirectory));
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contact_directory"), "400");

  auto clean = verify();
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_FALSE(mentions(clean, "not compared")) << clean.output;
  target_sql("UPDATE crm.contact_directory SET organization = 'org 99' WHERE contact_id = 2");
  auto wrong = verify();
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_TRUE(mentions(wrong, "contact_directory")) << wrong.output;
}

TEST_F(DerivedTablesTest, a_merge_killed_after_its_third_chunk_resumes_to_exactly_the_expected_rows) {
  target_sql("INSERT INTO crm.organizations (name) SELECT 'org ' || g FROM generate_series(1, 20) g");
  target_sql("INSERT INTO crm.contacts (email) SELECT 'other' || g || '@example.net' FROM generate_series(1, 700) g");
  target_sql("INSERT INTO crm.contact_organizations SELECT id, 1, false FROM crm.contacts");
  std::string theirs = target_value("SELECT md5(string_agg(j::text, ',' ORDER BY j::text)) FROM crm.contact_organizations j");
  // An expression reading the merged key sees the old keys: the dry run says so, with the fix.
  std::string reads_key = kMergeMapping;
  reads_key.replace(reads_key.find("{expr: \"true\"}"), std::string("{expr: \"true\"}").size(), "{expr: \"id > 0\"}");
  write_mapping(reads_key.c_str());
  auto plan = with_mapping("plan", {"--on-existing", "append"});
  EXPECT_TRUE(mentions(plan, "\"is_primary\": its expression reads \"id\", which holds keys of \"crm\".\"contacts\""))
      << plan.output;
  EXPECT_TRUE(mentions(plan, "{from: id}")) << plan.output;

  write_mapping(kMergeMapping);
  auto killed = holding_after(kAfterChunks, 3, args({"--on-existing", "append"}));
  // The fact: three chunks committed (the run catalog appears once the run is recorded).
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT to_regclass('pgblit.chunks') IS NOT NULL") == "t" &&
           target_value("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'") == "3";
  }))
      << killed->output_so_far();
  killed->kill_now();
  ASSERT_EQ(killed->wait().exit_code, 128 + SIGKILL);
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()") == "0";
  }));
  EXPECT_EQ(target_value("SELECT count(DISTINCT target_table) FROM pgblit.chunks"), "2") << "two targets, one source";

  auto resumed = copy({"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  // Exactly the moved rows: 600 contacts above the other tenant's 700, in source key order, and
  // each moved contact's organization (by name) as the source has it.
  EXPECT_EQ(target_value("SELECT min(id) || '-' || max(id) || ' ' || count(*) FROM crm.contacts WHERE id > 700"),
            "701-1300 600");
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.contacts WHERE id > 700 AND email <> 'c' || (id - 700) || '@example.org'"),
            "0");
  EXPECT_EQ(target_value(std::string(kTargetPairs) + " WHERE j.contact_id > 700"), source_value(kSourcePairs));
  EXPECT_EQ(target_value("SELECT md5(string_agg(j::text, ',' ORDER BY j::text)) FROM crm.contact_organizations j "
                         "WHERE contact_id <= 700"),
            theirs)
      << "the other tenant's junction rows untouched";
  auto clean = verify();
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
}

// uuid keys: a reference to a row the run does not move becomes NULL, as an integer one does.
TEST_F(DerivedTablesTest, a_uuid_reference_to_a_row_left_behind_becomes_null) {
  both_sql(R"(
CREATE TABLE crm.teams (id uuid PRIMARY KEY, org int NOT NULL, name text NOT NULL UNIQUE);
CREATE TABLE crm.members (id int PRIMARY KEY, org int NOT NULL, team_id uuid REFERENCES crm.teams, name text NOT NULL);)");
  source_sql(R"(
INSERT INTO crm.teams SELECT md5('team' || g)::uuid, 1 + g % 2, 'team ' || g FROM generate_series(1, 10) g;
-- Members of org 1 in teams of org 1 (even teams), and member 0 in a team of org 2 (team 1).
INSERT INTO crm.members SELECT g, 1, md5('team' || (2 + 2 * (g % 5)))::uuid, 'member ' || g FROM generate_series(1, 20) g;
INSERT INTO crm.members VALUES (0, 1, md5('team1')::uuid, 'member 0');)");
  write_mapping(R"yaml(version: 1
tables:
  crm.organizations: skip
  crm.contacts: skip
  crm.teams: {where: "org = 1", new_keys: uuid}
  crm.members: {where: "org = 1"}
)yaml");
  auto run = run_pgblit(args());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.teams WHERE id = md5('team2')::uuid"), "0") << "new keys";
  EXPECT_EQ(target_value("SELECT count(*) FROM crm.teams"), "5");
  EXPECT_EQ(target_value("SELECT team_id IS NULL FROM crm.members WHERE name = 'member 0'"), "t")
      << "its team was not moved: no key to point at";
  EXPECT_EQ(target_value("SELECT string_agg(m.name || ' in ' || t.name, ',' ORDER BY m.id) FROM crm.members m "
                         "JOIN crm.teams t ON t.id = m.team_id"),
            source_value("SELECT string_agg(m.name || ' in ' || t.name, ',' ORDER BY m.id) FROM crm.members m "
                         "JOIN crm.teams t ON t.id = m.team_id WHERE t.org = 1"));
}

}  // namespace
}  // namespace pgblit::test
