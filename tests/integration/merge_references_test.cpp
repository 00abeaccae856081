// A tenant merge whose references the mapping renames, retypes and holds in arrays: one
// organization's contacts, deals and notes go into a database that already holds another
// organization under the same keys. Every reference is checked by what it points at (emails,
// deal names), never by ids; the new keys are dense and in source key order, also after a
// SIGKILL and a resume; the organization's constant key leaves its sequence above it; and a
// reference planted wrong on the target is a difference verify names by both keys.
#include <fmt/format.h>

#include <csignal>
#include <fstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

constexpr const char* kSource = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.contacts (id bigserial PRIMARY KEY, organization_id int NOT NULL REFERENCES crm.organizations,
                           email text NOT NULL UNIQUE);
CREATE TABLE crm.deals (id bigserial PRIMARY KEY, organization_id int NOT NULL REFERENCES crm.organizations,
                        contact_id bigint REFERENCES crm.contacts, sales_id bigint REFERENCES crm.contacts,
                        contact_ids bigint[], name text NOT NULL UNIQUE, padding text);
CREATE TABLE crm.notes (id bigserial PRIMARY KEY, deal_id bigint NOT NULL REFERENCES crm.deals, body text NOT NULL,
                        padding text);
INSERT INTO crm.organizations (name) VALUES ('Moves'), ('Stays');
-- The two organizations' rows interleave, so the moving one's keys are sparse on the source.
INSERT INTO crm.contacts (organization_id, email) SELECT 1 + g % 2, 'c' || g || '@example.org' FROM generate_series(1, 240) g;
INSERT INTO crm.deals (organization_id, contact_id, sales_id, contact_ids, name, padding)
  SELECT c.organization_id, c.id, c.id + 2, ARRAY[c.id + 4, c.id, c.id + 2], 'deal of ' || c.email, repeat('x', 1000)
  FROM crm.contacts c WHERE c.id <= 230;
INSERT INTO crm.notes (deal_id, body, padding)
  SELECT d.id, 'note ' || g || ' on ' || d.name, repeat('y', 1000) FROM crm.deals d, generate_series(1, 2) g;
ANALYZE;)";

// The target names the keys and references otherwise, holds them as int, and has its own tenant.
constexpr const char* kTarget = R"(
CREATE SCHEMA crm;
CREATE TABLE crm.organizations (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE crm.contacts (contact_id serial PRIMARY KEY, organization_id int NOT NULL REFERENCES crm.organizations,
                           email text NOT NULL UNIQUE);
CREATE TABLE crm.opportunities (id serial PRIMARY KEY, organization_id int NOT NULL REFERENCES crm.organizations,
                                contact_id int REFERENCES crm.contacts, account_manager_id int REFERENCES crm.contacts,
                                contact_ids int[], title text NOT NULL UNIQUE, padding text);
CREATE TABLE crm.notes (id serial PRIMARY KEY, opportunity_id int NOT NULL REFERENCES crm.opportunities,
                        body text NOT NULL, padding text);
INSERT INTO crm.organizations (name) VALUES ('Other');
INSERT INTO crm.contacts (organization_id, email) SELECT 1, 'other' || g || '@example.net' FROM generate_series(1, 50) g;
INSERT INTO crm.opportunities (organization_id, contact_id, account_manager_id, contact_ids, title)
  SELECT 1, contact_id, contact_id, ARRAY[contact_id], 'their deal ' || contact_id FROM crm.contacts;
INSERT INTO crm.notes (opportunity_id, body) SELECT id, 'their note ' || id FROM crm.opportunities;)";

constexpr const char* kMapping = R"yaml(version: 1
scope: {column: organization_id, value: "1"}
remap: [{columns: [organization_id], from: "1", to: "9001"}]
tables:
  crm.organizations:
    where: "id = 1"
    columns:
      id: {expr: "9001"}
  crm.contacts:
    new_keys: sequence
    columns:
      contact_id: {from: id}
  crm.deals:
    target: crm.opportunities
    new_keys: sequence
    columns:
      title: {from: name}
      account_manager_id: {from: sales_id}
      contact_ids: {from: contact_ids, references: crm.contacts}
  crm.notes:
    new_keys: sequence
    columns:
      opportunity_id: {from: deal_id}
)yaml";

// What each moved deal and note points at, by natural keys, in one text per side.
constexpr const char* kSourceMeaning = R"(
SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
  SELECT d.name || ' | ' || c.email || ' | ' || s.email || ' | ' ||
         (SELECT string_agg(x.email, ',' ORDER BY u.n) FROM unnest(d.contact_ids) WITH ORDINALITY u(e, n)
          JOIN crm.contacts x ON x.id = u.e) AS r
  FROM crm.deals d JOIN crm.contacts c ON c.id = d.contact_id JOIN crm.contacts s ON s.id = d.sales_id
  WHERE d.organization_id = 1
  UNION ALL SELECT n.body || ' -> ' || d.name FROM crm.notes n JOIN crm.deals d ON d.id = n.deal_id
  WHERE d.organization_id = 1) m)";
constexpr const char* kTargetMeaning = R"(
SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
  SELECT o.title || ' | ' || c.email || ' | ' || s.email || ' | ' ||
         (SELECT string_agg(x.email, ',' ORDER BY u.n) FROM unnest(o.contact_ids) WITH ORDINALITY u(e, n)
          JOIN crm.contacts x ON x.contact_id = u.e) AS r
  FROM crm.opportunities o JOIN crm.contacts c ON c.contact_id = o.contact_id
  JOIN crm.contacts s ON s.contact_id = o.account_manager_id
  WHERE o.organization_id = 9001 AND c.organization_id = 9001 AND s.organization_id = 9001
  UNION ALL SELECT n.body || ' -> ' || o.title FROM crm.notes n JOIN crm.opportunities o ON o.id = n.opportunity_id
  WHERE o.organization_id = 9001) m)";

class MergeReferencesTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(kSource);
    target_sql(kTarget);
    file_ = "/tmp/pgblit-merge-refs-" + db_ + ".yaml";
    std::ofstream(file_) << kMapping;
  }
  void TearDown() override { std::remove(file_.c_str()); }

  std::vector<std::string> args() const {
    return copy_args({"--mapping", file_, "-n", "crm", "--on-existing", "append", "--chunk-size", "64kb"});
  }
  std::string other_tenant() {
    return target_value(R"(SELECT md5(string_agg(r, ',' ORDER BY r)) FROM (
  SELECT c::text r FROM crm.contacts c WHERE organization_id = 1
  UNION ALL SELECT o::text FROM crm.opportunities o WHERE organization_id = 1
  UNION ALL SELECT n::text FROM crm.notes n JOIN crm.opportunities o ON o.id = n.opportunity_id
  WHERE o.organization_id = 1) s)");
  }
  // Dense keys: the moved rows of `table` hold exactly [prior max + 1, prior max + moved], and
  // the key map gives them in the source's key order.
  void expect_dense(const std::string& table, const std::string& key, int64_t prior_max, int64_t moved) {
    auto span = target_value(fmt::format("SELECT min({0}) || '-' || max({0}) || ' ' || count(*) FROM {1} WHERE {0} > {2}",
                                         key, table, prior_max));
    EXPECT_EQ(span, fmt::format("{}-{} {}", prior_max + 1, prior_max + moved, moved)) << table;
    EXPECT_EQ(target_value(fmt::format(
                  "SELECT count(*) FROM (SELECT row_number() OVER (ORDER BY old_key::int8) o, "
                  "row_number() OVER (ORDER BY new_key::int8) n FROM pgblit.key_map WHERE target_table = '\"crm\".\"{}\"') s "
                  "WHERE o <> n",
                  table.substr(4))),
              "0")
        << table << ": new keys in source key order";
  }
  void expect_merged_right(const std::string& theirs) {
    EXPECT_EQ(other_tenant(), theirs) << "the other organization untouched";
    EXPECT_EQ(target_value(kTargetMeaning), source_value(kSourceMeaning)) << "every reference points at its row";
    expect_dense("crm.contacts", "contact_id", 50, 120);
    expect_dense("crm.opportunities", "id", 50, 115);
    expect_dense("crm.notes", "id", 50, 230);
    // The constant key 9001 left the organizations' sequence above it; no sequence went back.
    EXPECT_EQ(target_value("SELECT last_value >= 9001 FROM crm.organizations_id_seq"), "t");
    EXPECT_EQ(target_value("SELECT last_value >= 170 FROM crm.contacts_contact_id_seq"), "t");
    target_sql("INSERT INTO crm.organizations (name) VALUES ('Next')");
    target_sql("INSERT INTO crm.contacts (organization_id, email) VALUES (1, 'next@example.net')");
  }
  std::string file_;
};

TEST_F(MergeReferencesTest, renamed_retyped_and_array_references_follow_their_rows) {
  std::string theirs = other_tenant();
  auto plan = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "crm",
                          "--on-existing", "append"});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_TRUE(mentions(plan, "120 rows take 51 to 170 in \"contact_id\"")) << "dense, counted: " << plan.output;
  auto run = run_pgblit(args());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GT(std::stoi(target_value("SELECT count(*) FROM pgblit.chunks")), 6) << "parents and children in several chunks";
  expect_merged_right(theirs);
  auto verify = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "crm"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_FALSE(mentions(verify, "not compared")) << verify.output;

  // A moved note pointed at another moved opportunity: a difference, named by both keys.
  std::string note = target_value("SELECT min(id) FROM crm.notes WHERE id > 50");
  target_sql("UPDATE crm.notes SET opportunity_id = opportunity_id + 1 WHERE id = " + note);
  auto wrong = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "crm"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  EXPECT_TRUE(mentions(wrong, note + " (source key ")) << wrong.output;
}

TEST_F(MergeReferencesTest, keys_stay_dense_after_a_sigkill_and_a_resume) {
  std::string theirs = other_tenant();
  gate_inserts_into("crm.notes");
  close_gate();
  PgblitProcess killed(args());
  // The fact: contacts' chunks are committed in the catalog, and a lane waits loading notes.
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << killed.output_so_far();
  ASSERT_TRUE(eventually([&] { return target_value("SELECT count(*) > 0 FROM pgblit.chunks WHERE status = 'done'") == "t"; }))
      << killed.output_so_far();
  killed.kill_now();
  ASSERT_EQ(killed.wait().exit_code, 128 + SIGKILL);
  open_gate();
  ASSERT_TRUE(eventually([&] {
    return target_value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()") == "0";
  }));
  auto resumed = copy({"--resume"});  // by the plan the run catalog keeps
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_merged_right(theirs);
}

}  // namespace
}  // namespace pgblit::test
