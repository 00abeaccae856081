// The move the mapping file exists for: one organization's customers, jobs, support tickets,
// warranties and warranty items go from one project's database into another's, which already
// holds another organization under the same integer keys. Jobs become projects, values are
// renamed, the organization gets its new id everywhere, every copied row takes a new key and
// every foreign key follows; the other organization is untouched; `verify --mapping` compares
// the rows the move wrote and names a tampered one by its new and its source key.
#include <fmt/format.h>

#include <fstream>

#include "harness.hpp"

namespace pgblit::test {
namespace {

// Both projects' schema; the target's jobs are projects, with a column only it has.
constexpr const char* kSchema = R"(
CREATE SCHEMA app;
CREATE TABLE app.organizations (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.customers (id serial PRIMARY KEY, organization_id int NOT NULL REFERENCES app.organizations,
                            email text NOT NULL);
CREATE TABLE app.{jobs} (id serial PRIMARY KEY, organization_id int NOT NULL REFERENCES app.organizations,
                         customer_id int NOT NULL REFERENCES app.customers, {name} text NOT NULL, status text NOT NULL{extra});
CREATE TABLE app.support_tickets (id serial PRIMARY KEY, organization_id int NOT NULL REFERENCES app.organizations,
                                  job_id int NOT NULL REFERENCES app.{jobs}, priority text NOT NULL, body text);
CREATE TABLE app.warranties (id serial PRIMARY KEY, job_id int NOT NULL REFERENCES app.{jobs},
                             {policy} text NOT NULL, years int NOT NULL);
CREATE TABLE app.warranty_items (id serial PRIMARY KEY, warranty_id int NOT NULL REFERENCES app.warranties,
                                 serial_number text NOT NULL);)";

std::string schema(const std::string& jobs, const std::string& name, const std::string& policy, const std::string& extra) {
  return fmt::format(fmt::runtime(kSchema), fmt::arg("jobs", jobs), fmt::arg("name", name), fmt::arg("policy", policy),
                     fmt::arg("extra", extra));
}

// Organization `org` with `customers` customers, a job, a ticket and a warranty of two items each;
// keys from the serial sequences, so every organization's keys start where the last one's ended.
std::string tenant(int org, int customers, const std::string& jobs, const std::string& name, const std::string& policy) {
  return fmt::format(R"(
INSERT INTO app.organizations VALUES ({0}, 'Org {0}');
INSERT INTO app.customers (organization_id, email) SELECT {0}, 'Person' || g || '@Org{0}.Example' FROM generate_series(1, {1}) g;
INSERT INTO app.{2} (organization_id, customer_id, {3}, status)
  SELECT {0}, c.id, 'job of ' || c.email, (ARRAY['open', 'done'])[c.id % 2 + 1] FROM app.customers c WHERE organization_id = {0};
INSERT INTO app.support_tickets (organization_id, job_id, priority, body)
  SELECT {0}, j.id, (ARRAY['high', 'low'])[j.id % 2 + 1], 'ticket ' || j.id FROM app.{2} j WHERE organization_id = {0};
INSERT INTO app.warranties (job_id, {4}, years)
  SELECT j.id, (ARRAY['manufacturer', 'extended', 'service_plan'])[j.id % 3 + 1], 10 FROM app.{2} j WHERE organization_id = {0};
INSERT INTO app.warranty_items (warranty_id, serial_number)
  SELECT w.id, 'SN-' || w.id || '-' || g FROM app.warranties w JOIN app.{2} j ON j.id = w.job_id, generate_series(1, 2) g
  WHERE j.organization_id = {0};)",
                     org, customers, jobs, name, policy);
}

constexpr const char* kMapping = R"yaml(version: 1
scope: {column: organization_id, value: "1"}
remap: [{columns: [organization_id], from: "1", to: "900"}]
tables:
  app.organizations:
    where: "id = 1"
    columns:
      id: {expr: "900"}
  app.customers:
    new_keys: sequence
    columns:
      email: {expr: "lower(email)"}
  app.jobs:
    target: app.projects
    new_keys: sequence
    columns:
      title: {from: name}
      status: {from: status, map: {open: active, done: completed}, else: error}
  app.support_tickets:
    new_keys: sequence
  app.warranties:
    new_keys: sequence
    columns:
      policy: {from: policy_type, map: {manufacturer: inverter_manufacturer, extended: battery_performance, service_plan: installation_workmanship}, else: keep}
  app.warranty_items:
    new_keys: sequence
)yaml";

class TenantMoveTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(schema("jobs", "name", "policy_type", ""));
    source_sql(tenant(2, 300, "jobs", "name", "policy_type"));  // stays
    source_sql(tenant(1, 400, "jobs", "name", "policy_type"));  // moves
    source_sql("ANALYZE");
    target_sql(schema("projects", "title", "policy", ", created_at timestamptz NOT NULL DEFAULT now()"));
    target_sql(tenant(500, 250, "projects", "title", "policy"));
    file_ = "/tmp/pgblit-tenant-" + db_ + ".yaml";
    std::ofstream(file_) << kMapping;
  }
  void TearDown() override { std::remove(file_.c_str()); }

  std::string other_tenant() {  // every row of organization 500, as text, in one digest
    return target_value(R"(SELECT md5(string_agg(r, ',' ORDER BY r)) FROM (
  SELECT c::text r FROM app.customers c WHERE organization_id = 500
  UNION ALL SELECT p::text FROM app.projects p WHERE organization_id = 500
  UNION ALL SELECT t::text FROM app.support_tickets t WHERE organization_id = 500
  UNION ALL SELECT w::text FROM app.warranties w JOIN app.projects p ON p.id = w.job_id WHERE p.organization_id = 500
  UNION ALL SELECT i::text FROM app.warranty_items i JOIN app.warranties w ON w.id = i.warranty_id
            JOIN app.projects p ON p.id = w.job_id WHERE p.organization_id = 500) s)");
  }
  RunResult verify(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"verify", "--source", source_url(), "--target", target_url(), "--mapping", file_, "-n", "app"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pgblit(args);
  }
  std::string file_;
};

TEST_F(TenantMoveTest, one_organization_moves_beside_another_and_verifies) {
  // The keys collide: both sides' serials start at 1.
  ASSERT_EQ(target_value("SELECT min(id) FROM app.projects"), "1");
  std::string theirs = other_tenant();
  auto too_early = verify();  // new keys are chosen by a copy: there is none yet to compare by
  EXPECT_EQ(too_early.exit_code, 2) << too_early.output;
  EXPECT_TRUE(mentions(too_early, "--run RUN_ID")) << too_early.output;
  auto run = copy({"--mapping", file_, "-n", "app", "--on-existing", "append"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(mentions(run, "compared on the rows whose keys the copy wrote")) << run.output;
  EXPECT_FALSE(mentions(run, "not verified")) << run.output;
  EXPECT_FALSE(mentions(run, "does not exist on the target")) << "jobs' sequence is projects' there: " << run.output;

  EXPECT_EQ(other_tenant(), theirs) << "organization 500 untouched";
  EXPECT_EQ(target_value("SELECT name FROM app.organizations WHERE id = 900"), "Org 1");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.customers WHERE organization_id = 900"), "400");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.customers WHERE organization_id = 900 AND email <> lower(email)"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.projects WHERE organization_id = 900"), "400");
  EXPECT_EQ(target_value("SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM app.projects WHERE organization_id = 900"),
            "active,completed");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.organizations WHERE id IN (1, 2)"), "0") << "nothing of the rest";
  // Every foreign key followed its parent's new key: each moved row still reaches organization
  // 900 through the same chain, and the counts along it are the source's.
  EXPECT_EQ(target_value("SELECT count(*) FROM app.projects p JOIN app.customers c ON c.id = p.customer_id "
                         "WHERE p.organization_id = 900 AND c.organization_id = 900 AND lower(p.title) = 'job of ' || c.email"),
            "400");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.support_tickets t JOIN app.projects p ON p.id = t.job_id "
                         "WHERE t.organization_id = 900 AND p.organization_id = 900"),
            "400");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.warranty_items i JOIN app.warranties w ON w.id = i.warranty_id "
                         "JOIN app.projects p ON p.id = w.job_id WHERE p.organization_id = 900 "
                         "AND i.serial_number LIKE 'SN-%'"),
            "800");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.warranties w JOIN app.projects p ON p.id = w.job_id "
                         "WHERE p.organization_id = 900 AND w.policy IN ('inverter_manufacturer', "
                         "'battery_performance', 'installation_workmanship')"),
            "400");
  // The old -> new map is in the run catalog, a row for every moved row of a merged table.
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.key_map WHERE target_table = '\"app\".\"warranty_items\"'"), "800");
  // Sequences moved past the block the move took: the target's next insert does not collide.
  target_sql("INSERT INTO app.customers (organization_id, email) VALUES (500, 'new@org500.example')");

  auto verified = verify();
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  auto by_run = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--run", "1"});
  EXPECT_EQ(by_run.exit_code, 0) << by_run.output;
  EXPECT_TRUE(mentions(verified, "compared on the rows the copy wrote")) << verified.output;
  // The other organization's rows are not the move's: changing them is not a difference.
  target_sql("UPDATE app.warranty_items SET serial_number = 'theirs' WHERE id = 1");
  EXPECT_EQ(verify().exit_code, 0);
  // A moved row tampered with is named by its key on the target and on the source.
  std::string new_key = target_value(
      "SELECT new_key FROM pgblit.key_map WHERE target_table = '\"app\".\"warranty_items\"' AND old_key = '"
      + source_value("SELECT min(i.id) FROM app.warranty_items i JOIN app.warranties w ON w.id = i.warranty_id "
                     "JOIN app.jobs j ON j.id = w.job_id WHERE j.organization_id = 1") + "'");
  target_sql("UPDATE app.warranty_items SET serial_number = 'tampered' WHERE id = " + new_key);
  auto tampered = verify();
  EXPECT_EQ(tampered.exit_code, 3) << tampered.output;
  EXPECT_TRUE(mentions(tampered, "changed: " + new_key + " (source key ")) << tampered.output;
}

}  // namespace
}  // namespace pgblit::test
