// A target that already has its full schema: pgblit drops the indexes and constraints of the
// empty tables, loads, rebuilds them, and the target's schema ends byte-identical to what it
// was (pg_dump --schema-only); killed at any moment and resumed, likewise; a rebuild the data
// cannot satisfy names the constraint and the keys, and a resume after the fix completes it.
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>

#include "harness.hpp"

namespace pgblit::test {
namespace {

// pg_dump's output without psql meta-commands (\restrict carries a random key per dump).
std::string without_meta_commands(const std::string& dump) {
  std::string out;
  size_t at = 0;
  while (at < dump.size()) {
    size_t end = dump.find('\n', at);
    if (end == std::string::npos) end = dump.size();
    if (dump[at] != '\\') out.append(dump, at, end - at + 1);
    at = end + 1;
  }
  return out;
}

class DeferredTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(R"(
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('open', 'closed');
CREATE TABLE app.orgs (id bigint PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE app.customers (id bigint PRIMARY KEY, org_id bigint NOT NULL REFERENCES app.orgs (id), email text NOT NULL,
  CONSTRAINT customers_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX customers_org_idx ON app.customers (org_id);
CREATE INDEX customers_lower_email ON app.customers (lower(email)) WHERE email <> '';
COMMENT ON INDEX app.customers_org_idx IS 'by org';
COMMENT ON CONSTRAINT customers_email_key ON app.customers IS 'one email';
ALTER TABLE app.customers CLUSTER ON customers_org_idx;
CREATE TABLE app.tickets (id uuid PRIMARY KEY, customer_id bigint, status app.status, during tstzrange, room int,
  EXCLUDE USING gist (room WITH =, during WITH &&));
ALTER TABLE app.tickets ADD CONSTRAINT tickets_customer_fk FOREIGN KEY (customer_id) REFERENCES app.customers (id) NOT VALID;
CREATE INDEX ON app.tickets USING hash (status);
CREATE TABLE app.audit (at timestamptz, org_id bigint REFERENCES app.orgs (id));
CREATE TABLE app.parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES FROM (0) TO (5000);
CREATE TABLE app.parted_2 PARTITION OF app.parted FOR VALUES FROM (5000) TO (10001);
CREATE INDEX ON app.parted (v);
-- Small tables in 256 kB chunks (customers 6, tickets 4): the moments need chunks, not bytes.
INSERT INTO app.orgs SELECT g, 'org ' || g FROM generate_series(1, 100) g;
INSERT INTO app.customers SELECT g, g % 100 + 1, 'c' || g || '@x' FROM generate_series(1, 25000) g;
INSERT INTO app.tickets SELECT gen_random_uuid(), g % 25000 + 1, 'open',
  tstzrange('2026-01-01'::timestamptz + g * interval '1 hour', '2026-01-01'::timestamptz + (g + 1) * interval '1 hour'),
  g % 10 FROM generate_series(1, 10000) g;
INSERT INTO app.parted SELECT g, md5(g::text) FROM generate_series(1, 10000) g;
ANALYZE)");
    // The target as migrations left it: the whole schema, no rows.
    std::string dump = shell_output("pg_dump --schema-only '" + source_url() + "'");
    ASSERT_FALSE(dump.empty());
    load_on_target(dump);
    schema_before_ = target_schema();
  }

  void load_on_target(const std::string& sql) {
    std::string file = "/tmp/pgblit-deferred-" + std::to_string(getpid()) + ".sql";
    FILE* f = fopen(file.c_str(), "w");
    fwrite(sql.data(), 1, sql.size(), f);
    fclose(f);
    ASSERT_EQ(std::system(("psql -q -v ON_ERROR_STOP=1 '" + target_url() + "' -f " + file + " >/dev/null").c_str()), 0);
    std::remove(file.c_str());
  }

  // pg_dump --schema-only of the target without pgblit's catalog, less the random \restrict keys.
  std::string target_schema() {
    std::string dump = without_meta_commands(shell_output("pg_dump --schema-only -N pgblit '" + target_url() + "'"));
    EXPECT_NE(dump.find("CREATE INDEX customers_org_idx"), std::string::npos) << "pg_dump gave no schema";
    return dump;
  }

  void expect_all_data() {
    for (const char* t : {"app.orgs", "app.customers", "app.tickets", "app.parted"}) expect_same_contents(t);
  }

  std::vector<std::string> args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"-n", "app", "-T", "app.audit", "--yes", "--chunk-size", "256kB"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::string schema_before_;
};

TEST_F(DeferredTest, a_full_schema_target_is_loaded_and_its_schema_is_byte_identical_after) {
  auto run = copy(args());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("deferred 12 indexes and constraints"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("part of a partitioned index tree"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("primary keys: "), std::string::npos) << run.output;
  expect_all_data();
  EXPECT_EQ(target_schema(), schema_before_);
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE status <> 'rebuilt'"), "0");
  // The foreign key from a table outside the run onto a deferred primary key came back too.
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE name = '\"audit_org_id_fkey\"'"), "1");
}

TEST_F(DeferredTest, indexes_keep_loads_with_everything_in_place) {
  auto run = copy(args({"--indexes", "keep"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_all_data();
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects"), "0");
  EXPECT_EQ(target_schema(), schema_before_);
}

// Ten named moments: after each of the first chunks is committed, then after each deferred
// object is rebuilt; each time pgblit holds there (PGBLIT_HOLD_AFTER_*), the test sees the fact
// in the catalog, SIGKILLs it and resumes. No clock decides a moment.
TEST_F(DeferredTest, sigkill_at_ten_moments_over_load_and_rebuild_then_resume_restores_data_and_schema) {
  auto count = [&](const std::string& sql) {
    return target_value("SELECT to_regclass('pgblit.runs') IS NULL") == "t" ? 0 : std::stoi(target_value(sql));
  };
  auto chunks_done = [&] { return count("SELECT count(*) FROM pgblit.chunks WHERE status = 'done'"); };
  auto rebuilt = [&] { return count("SELECT count(*) FROM pgblit.objects WHERE status = 'rebuilt'"); };
  for (int i = 0; i < 10; ++i) {
    bool loading = i < 5;
    int before = loading ? chunks_done() : rebuilt();
    auto a = copy_args(args({"-j", "1", "--index-jobs", "1", "--log-level", "warn"}));
    if (i > 0) a.push_back("--resume");
    auto copy = holding_after(loading ? kAfterChunks : kAfterRebuilds, 1, a);
    ASSERT_TRUE(eventually([&] { return (loading ? chunks_done() : rebuilt()) > before; })) << copy->output_so_far();
    copy->kill_now();
    auto result = copy->wait();
    ASSERT_EQ(result.exit_code, 128 + SIGKILL) << "moment " << i << ": " << result.output;
  }
  EXPECT_NE(target_value("SELECT count(*) FROM pgblit.objects WHERE status <> 'rebuilt'"), "0")
      << "the last moment must leave deferred objects to rebuild";
  auto last = copy({"--resume"});
  ASSERT_EQ(last.exit_code, 0) << last.output;
  expect_all_data();
  EXPECT_EQ(target_schema(), schema_before_);
}

TEST_F(DeferredTest, a_rebuild_the_rows_break_names_constraint_and_keys_and_resume_finishes_after_the_fix) {
  // Rules only the target has: a unique name per customer email domain, and every ticket's customer must exist.
  source_sql("INSERT INTO app.customers VALUES (100001, 1, 'dup@x'), (100002, 1, 'DUP@x');"
             "ALTER TABLE app.tickets DROP CONSTRAINT tickets_customer_fk;"
             "INSERT INTO app.tickets VALUES (gen_random_uuid(), 999999, 'open', NULL, 99)");
  target_sql("CREATE UNIQUE INDEX customers_email_ci ON app.customers (lower(email));"
             "ALTER TABLE app.tickets VALIDATE CONSTRAINT tickets_customer_fk");
  schema_before_ = target_schema();
  auto run = copy(args());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("index \"customers_email_ci\" on \"app\".\"customers\" could not be rebuilt"),
            std::string::npos) << run.output;
  EXPECT_NE(run.output.find("could not create unique index"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("foreign key \"tickets_customer_fk\" on \"app\".\"tickets\" could not be rebuilt"),
            std::string::npos) << run.output;
  EXPECT_NE(run.output.find("offending keys (at most 10): (999999)"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("pgblit copy --resume"), std::string::npos) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM app.customers"), "25002");  // the data stays loaded
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'dropped'"), "2");
  // Their definitions live only in the catalog: clean will not drop it.
  auto clean = run_pgblit({"clean", "1", "--target", target_url(), "--yes"});
  EXPECT_EQ(clean.exit_code, 2) << clean.output;
  EXPECT_NE(clean.output.find("not rebuilt yet"), std::string::npos) << clean.output;
  // The DBA fixes the rows on the target; the resume rebuilds only what is pending.
  target_sql("DELETE FROM app.customers WHERE id = 100002; DELETE FROM app.tickets WHERE customer_id = 999999");
  auto resumed = copy({"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("not read again"), std::string::npos) << resumed.output;
  EXPECT_EQ(target_schema(), schema_before_);
  auto cleaned = run_pgblit({"clean", "1", "--target", target_url(), "--yes"});
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output;
}

TEST_F(DeferredTest, clean_restore_objects_rebuilds_what_a_failed_run_left_pending) {
  source_sql("INSERT INTO app.customers VALUES (100001, 1, 'dup@x'), (100002, 1, 'DUP@x')");
  target_sql("CREATE UNIQUE INDEX customers_email_ci ON app.customers (lower(email))");
  schema_before_ = target_schema();
  ASSERT_EQ(copy(args()).exit_code, 1);
  target_sql("DELETE FROM app.customers WHERE id = 100002");
  auto clean = run_pgblit({"clean", "1", "--restore-objects", "--target", target_url(), "--yes"});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_EQ(target_schema(), schema_before_);
}

TEST_F(DeferredTest, the_tables_owner_defers_without_superuser_and_a_table_it_does_not_own_keeps_its_indexes) {
  target_sql("DO $$ BEGIN CREATE ROLE pgblit_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
             "GRANT CREATE ON DATABASE \"" + db_ + "\" TO pgblit_owner; GRANT USAGE ON SCHEMA app TO pgblit_owner;"
             "GRANT USAGE ON SCHEMA public TO pgblit_owner;"
             "ALTER TABLE app.orgs OWNER TO pgblit_owner; ALTER TABLE app.customers OWNER TO pgblit_owner;"
             "GRANT INSERT, SELECT ON app.tickets TO pgblit_owner");
  schema_before_ = target_schema();
  std::string as_owner = "postgresql://pgblit_owner@127.0.0.1:" + std::to_string(target_port()) + "/" + db_;
  std::vector<std::string> args{"copy", "--source", source_url(), "--target", as_owner, "-t", "app.orgs",
                                "-t", "app.customers", "-t", "app.tickets", "--yes"};
  // Without CREATE on the schema it may drop the indexes but not build them again: nothing is deferred.
  auto first = run_pgblit(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("may not create indexes in its schema (GRANT CREATE ON SCHEMA)"), std::string::npos)
      << first.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects"), "0");
  EXPECT_EQ(target_schema(), schema_before_);
  target_sql("TRUNCATE app.orgs, app.customers, app.tickets, app.audit; DROP SCHEMA pgblit CASCADE;"
             "GRANT CREATE ON SCHEMA app TO pgblit_owner");
  schema_before_ = target_schema();
  auto run = run_pgblit(args);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("indexes and constraints of \"app\".\"tickets\": the target role does not own its table"),
            std::string::npos) << run.output;
  // Its unique key, two indexes and foreign key; its primary key stays: "tickets" (not owned) references it.
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE table_name = '\"app\".\"customers\"'"), "4");
  EXPECT_NE(run.output.find("primary key \"customers_pkey\" on \"app\".\"customers\": foreign key \"tickets_customer_fk\""),
            std::string::npos) << run.output;
  for (const char* t : {"app.orgs", "app.customers", "app.tickets"}) expect_same_contents(t);
  EXPECT_EQ(target_schema(), schema_before_);
}

TEST_F(DeferredTest, create_schema_into_an_empty_database_reproduces_the_source_schema_and_data) {
  source_sql("INSERT INTO app.audit SELECT '2000-01-01', g FROM generate_series(1, 100) g;"
             "CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.at = now(); RETURN NEW; END $$;"
             "CREATE TRIGGER audit_stamp BEFORE INSERT ON app.audit FOR EACH ROW EXECUTE FUNCTION app.stamp();"
             "ALTER TABLE app.orgs ENABLE ROW LEVEL SECURITY; CREATE POLICY everyone ON app.orgs USING (true)");
  target_sql("DROP SCHEMA app CASCADE; DROP TYPE IF EXISTS app.status");
  std::string source_schema = without_meta_commands(shell_output("pg_dump --schema-only '" + source_url() + "'"));
  auto run = copy({"-n", "app", "--create-schema", "--no-owner", "--yes", "--chunk-size", "256kB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("created the selected schema on the target"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("post-data scripts: 1"), std::string::npos) << run.output;
  expect_all_data();
  expect_same_contents("app.audit");  // the trigger came after the data: it did not restamp copied rows
  EXPECT_EQ(target_schema(), source_schema);
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_stamp'"), "1");
}

}  // namespace
}  // namespace pgblit::test
