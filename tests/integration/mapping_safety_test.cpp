// A mapping file is input, not code: its SQL reaches the source as one statement inside a
// read-only transaction (a where holding statements is refused at load, naming its line, and
// the server refuses a second statement or a COPY whose query is not one); a scope that would
// keep every tenant, or select nothing, is refused before anything is written; what the dry run
// can see of a mapping that can only fail is refused by copy before any index is dropped; and
// nothing the target defines (a CHECK calling its functions) runs on the source.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "pg/copy.hpp"
#include "pg/session.hpp"

namespace pgblit::test {
namespace {

class MappingSafetyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    source_sql(R"(
CREATE TABLE public.canary (x int);
INSERT INTO public.canary VALUES (1);
CREATE TABLE orgs (org_id int PRIMARY KEY, name text);
CREATE TABLE deals (id int PRIMARY KEY, org_id int REFERENCES orgs, kind text, amount int);
INSERT INTO orgs SELECT g, 'org ' || g FROM generate_series(1, 3) g;
INSERT INTO deals SELECT g, g % 3 + 1, (ARRAY['new', 'renewal'])[g % 2 + 1], g FROM generate_series(1, 300) g;
ANALYZE)");
    target_sql(R"(
CREATE TABLE orgs (org_id int PRIMARY KEY, name text);
CREATE TABLE deals (id int PRIMARY KEY, org_id int REFERENCES orgs, kind text, amount int);
CREATE INDEX deals_kind ON deals (kind))");
    file_ = "/tmp/pgblit-mapping-safety-" + db_ + ".yaml";
  }
  void TearDown() override { std::remove(file_.c_str()); }
  void write(const std::string& text) { std::ofstream(file_) << text; }
  RunResult plan(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"plan", "--source", source_url(), "--target", target_url(), "-t", "public.orgs",
                                  "-t", "public.deals", "--estimate-seconds", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pgblit(args);
  }
  RunResult mapped_copy(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-t", "public.orgs", "-t", "public.deals", "--mapping", file_, "--yes"};
    args.insert(args.end(), extra.begin(), extra.end());
    return copy(args);
  }
  std::string target_schema() { return shell_output("pg_dump --schema-only '" + target_url() + "' | grep -v '^\\\\'"); }
  // Nothing written: no rows, no run catalog, the schema (indexes, keys) as it was.
  void expect_target_untouched(const std::string& schema_before) {
    EXPECT_EQ(target_value("SELECT count(*) FROM deals"), "0");
    EXPECT_EQ(target_value("SELECT count(*) FROM orgs"), "0");
    EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
    EXPECT_EQ(target_schema(), schema_before);
  }
  std::string file_;
};

TEST_F(MappingSafetyTest, a_where_holding_statements_is_refused_at_load_and_the_canary_survives) {
  write("version: 1\ntables:\n  public.deals:\n    where: \"true LIMIT 0; COMMIT; DELETE FROM public.canary WHERE x = 1; "
        "SELECT 1 WHERE true\"\n");
  auto planned = plan({"--mapping", file_});
  EXPECT_EQ(planned.exit_code, 2) << planned.output;
  EXPECT_TRUE(mentions(planned, file_ + ":4:12: 'where': ';' ends a statement")) << planned.output;
  auto copied = mapped_copy();
  EXPECT_EQ(copied.exit_code, 2) << copied.output;
  EXPECT_TRUE(mentions(copied, file_ + ":4:12")) << copied.output;
  EXPECT_EQ(source_value("SELECT count(*) FROM public.canary"), "1");
  // An expression that closes pgblit's parenthesis, and a comment that hides pgblit's text.
  write("version: 1\ntables:\n  public.deals:\n    columns:\n      kind: {expr: \"kind) FROM deals --\"}\n");
  auto closing = mapped_copy();
  EXPECT_EQ(closing.exit_code, 2) << closing.output;
  EXPECT_TRUE(mentions(closing, file_ + ":5:20: 'expr': ')' closes a parenthesis")) << closing.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM deals"), "0");
}

// What the loader cannot see, the server refuses: a second statement through the extended
// protocol, and a COPY whose query alone is not one statement (closing the parenthesis early
// would make it COPY ... TO PROGRAM).
TEST_F(MappingSafetyTest, the_server_takes_one_statement_and_a_copy_only_of_one_query) {
  auto conn = pg::Connection::open(source_url(), "source");
  conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  EXPECT_THROW(conn.exec_one("SELECT 1; COMMIT; DELETE FROM public.canary WHERE x = 1"), Error);
  conn.exec("ROLLBACK");
  std::string marker = "/tmp/pgblit-copy-escape-" + db_;
  std::filesystem::remove(marker);
  for (const std::string& sql :
       {std::string("COPY (SELECT 1 WHERE true) TO PROGRAM 'touch " + marker + "' --) TO STDOUT (FORMAT text)"),
        std::string("COPY (SELECT 1; COMMIT; DELETE FROM public.canary WHERE x = 1; SELECT 1) TO STDOUT (FORMAT text)"),
        std::string("COPY (SELECT 1 LIMIT 0) TO STDOUT; DELETE FROM public.canary; COPY (SELECT 1) TO STDOUT")}) {
    EXPECT_THROW({ pg::CopyOut refused(conn, sql, "canary"); }, Error) << sql;
    pg::rollback_quietly(conn);
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(source_value("SELECT count(*) FROM public.canary"), "1");
  // The one form pgblit uses still streams.
  pg::CopyOut out(conn, "COPY (SELECT x FROM public.canary) TO STDOUT (FORMAT text)", "canary");
  EXPECT_EQ(std::string(out.next().data(), 2), "1\n");
  EXPECT_FALSE(out.end().error);
}

TEST_F(MappingSafetyTest, a_scope_column_no_table_has_is_refused_naming_the_near_miss) {
  std::string before = target_schema();
  write("version: 1\nscope: {column: orgid, value: \"1\"}\ntables:\n  public.deals:\n    where: \"amount > 0\"\n");
  auto copied = mapped_copy();
  EXPECT_EQ(copied.exit_code, 2) << copied.output;
  EXPECT_TRUE(mentions(copied, file_ + ":2:8: no selected table has the scope's column \"orgid\"")) << copied.output;
  EXPECT_TRUE(mentions(copied, "did you mean \"org_id\"")) << copied.output;
  expect_target_untouched(before);
  auto planned = plan({"--mapping", file_});
  EXPECT_EQ(planned.exit_code, 5) << planned.output;
  EXPECT_TRUE(mentions(planned, "scope's column \"orgid\"")) << planned.output;
}

// The dry run's no-go on a scope value that matches nothing is copy's refusal too: the
// unscoped tables are not copied whole.
TEST_F(MappingSafetyTest, copy_refuses_a_scope_that_selects_nothing_as_the_dry_run_does) {
  source_sql("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'unscoped')");
  target_sql("CREATE TABLE notes (id int PRIMARY KEY, body text)");
  std::string before = target_schema();
  write("version: 1\nscope: {column: org_id, value: \"17\"}\ntables:\n  public.canary: skip\n");
  auto planned = run_pgblit({"plan", "--source", source_url(), "--target", target_url(), "--mapping", file_,
                             "--estimate-seconds", "0"});
  EXPECT_EQ(planned.exit_code, 5) << planned.output;
  auto copied = copy({"--mapping", file_, "--yes"});
  EXPECT_EQ(copied.exit_code, 2) << copied.output;
  EXPECT_TRUE(mentions(copied, "the mapping's filters select no row of any table")) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM notes"), "0");
  expect_target_untouched(before);
}

// A mapping that can only fail is found before the target's indexes and keys are dropped: a
// value map's else: error on values the rows hold, a scope literal its column's type refuses,
// a function the read-only source stops.
TEST_F(MappingSafetyTest, a_mapping_that_can_only_fail_is_refused_before_anything_is_dropped) {
  std::string before = target_schema();
  write("version: 1\ntables:\n  public.deals:\n    columns:\n"
        "      kind: {from: kind, map: {new: fresh}, else: error}\n");
  auto unmapped = mapped_copy();
  EXPECT_EQ(unmapped.exit_code, 2) << unmapped.output;
  EXPECT_TRUE(mentions(unmapped, file_ + ":5:13: the value map of column \"kind\" of \"public\".\"deals\" has no value "
                                 "for 'renewal'")) << unmapped.output;
  expect_target_untouched(before);

  write("version: 1\nscope: {column: org_id, value: \"first\"}\ntables:\n  public.canary: skip\n");
  auto literal = mapped_copy();
  EXPECT_EQ(literal.exit_code, 2) << literal.output;
  EXPECT_TRUE(mentions(literal, "invalid input syntax for type integer: \"first\"")) << literal.output;
  expect_target_untouched(before);

  source_sql("CREATE FUNCTION public.remember(v int) RETURNS int LANGUAGE plpgsql AS "
             "$$ BEGIN INSERT INTO public.canary VALUES (v); RETURN v; END $$");
  write("version: 1\ntables:\n  public.deals:\n    columns:\n      amount: {expr: \"public.remember(amount)\"}\n");
  auto writing = mapped_copy();
  EXPECT_EQ(writing.exit_code, 2) << writing.output;
  EXPECT_TRUE(mentions(writing, "read-only transaction")) << writing.output;
  expect_target_untouched(before);
  EXPECT_EQ(source_value("SELECT count(*) FROM public.canary"), "1");

  // With a rejects budget, rows the map lacks are for the copy to set aside.
  auto dir = std::filesystem::temp_directory_path() / ("pgblit-mapping-safety-" + db_);
  write("version: 1\ntables:\n  public.deals:\n    columns:\n"
        "      kind: {from: kind, map: {new: fresh}, else: error}\n");
  auto budget = mapped_copy({"--max-rejects", "1000", "--rejects-dir", dir.string()});
  EXPECT_EQ(budget.exit_code, 4) << budget.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM deals"), "150");
  std::filesystem::remove_all(dir);
}

// The target's CHECK constraints are counted on the source only where every function they use
// is a built-in immutable one: a CHECK calling the target owner's function, or
// pg_terminate_backend, is named as not evaluated, and does not run.
TEST_F(MappingSafetyTest, a_target_check_with_functions_of_its_own_does_not_run_on_the_source) {
  auto victim = pg::Connection::open(source_url(), "source");
  std::string pid = victim.exec("SELECT pg_backend_pid()").text(0, 0);
  // The same function on both sides: were the target's CHECK run on the source, it would say so.
  both_sql("CREATE FUNCTION public.shout(v int) RETURNS boolean LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION 'pgblit test: a target function ran on the source'; END $$");
  target_sql("ALTER TABLE deals ADD CONSTRAINT deals_shout CHECK (public.shout(amount)) NOT VALID;"
             "ALTER TABLE deals ADD CONSTRAINT deals_kill CHECK (pg_terminate_backend(" + pid + ") OR amount > 0) NOT VALID;"
             "ALTER TABLE deals ADD CONSTRAINT deals_small CHECK (amount < 250)");
  auto planned = plan({"--json"});
  ASSERT_NE(planned.output.find('{'), std::string::npos) << planned.output;
  auto dry = nlohmann::json::parse(planned.output.substr(planned.output.find('{')))["dry_run"];
  EXPECT_EQ(planned.output.find("a target function ran on the source"), std::string::npos) << planned.output;
  std::map<std::string, std::string> checks;
  for (const auto& f : dry["findings"]) {
    if (f["check"] == "check") checks[f["object"]] = f["message"].get<std::string>() + " / " + f["severity"].get<std::string>();
  }
  EXPECT_NE(checks["\"public\".\"deals\" \"deals_shout\""].find("not evaluated on the source: it uses shout(integer) "
                                                               "(defined on the target)"),
            std::string::npos) << dry.dump(1);
  EXPECT_NE(checks["\"public\".\"deals\" \"deals_kill\""].find("pg_terminate_backend(integer,bigint) (not immutable)"),
            std::string::npos) << dry.dump(1);
  // A CHECK of built-in immutable functions is still counted on the rows: amounts 250 to 300.
  EXPECT_NE(checks["\"public\".\"deals\" \"deals_small\""].find("/ warning"), std::string::npos) << dry.dump(1);
  EXPECT_EQ(victim.exec("SELECT 1").text(0, 0), "1") << "the source session was not terminated";
}

TEST_F(MappingSafetyTest, contradictory_or_ignored_flags_and_duplicate_keys_are_refused) {
  write("version: 1\ntables:\n  public.deals:\n    where: \"org_id = 1\"\n  public.deals:\n    where: \"true\"\n");
  auto twice = mapped_copy();
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_TRUE(mentions(twice, file_ + ":5:3: 'public.deals' appears twice in 'tables'")) << twice.output;
  write("version: 1\ntables:\n  public.deals:\n    columns:\n      kind: kind\n      kind: {expr: \"'x'\"}\n");
  auto column_twice = mapped_copy();
  EXPECT_EQ(column_twice.exit_code, 2) << column_twice.output;
  EXPECT_TRUE(mentions(column_twice, file_ + ":6:7: 'kind' appears twice")) << column_twice.output;

  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--max-rejects", "99999999999999999999"}, {"--max-rejects", "0x10"}, {"--no-owner"}, {"--no-acl"},
           {"--resume", "1", "--join", "1"}, {"--resume", "99999999999999999999"}}) {
    std::vector<std::string> args = flags;
    args.push_back("--yes");
    auto run = copy(args);
    EXPECT_EQ(run.exit_code, 2) << flags[0] << ": " << run.output;
  }
  EXPECT_TRUE(mentions(copy({"--no-owner", "--yes"}), "--no-owner applies to --create-schema only"));
  EXPECT_TRUE(mentions(copy({"--resume", "1", "--join", "1"}), "--resume and --join are two ways"));
  EXPECT_TRUE(mentions(copy({"--max-rejects", "99999999999999999999"}), "is not a count"));
  EXPECT_EQ(target_value("SELECT count(*) FROM deals"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

// A target role that is not superuser cannot give the restored objects the source's owner:
// the hint says --no-owner, not "drop what exists".
TEST_F(MappingSafetyTest, create_schema_as_a_non_superuser_points_to_no_owner) {
  std::string role = "pgblit_plain_owner";
  target_sql("DO $$ BEGIN CREATE ROLE " + role + " LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
             "DROP TABLE deals, orgs; ALTER DATABASE \"" + db_ + "\" OWNER TO " + role + ";"
             "ALTER SCHEMA public OWNER TO " + role);
  std::string as_owner = "postgresql://" + role + "@127.0.0.1:" + std::to_string(target_port()) + "/" + db_;
  std::vector<std::string> args{"copy", "--source", source_url(), "--target", as_owner, "-t", "public.orgs",
                                "-t", "public.deals", "--create-schema", "--yes"};
  auto refused = run_pgblit(args);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "copy with --no-owner")) << refused.output;
  EXPECT_FALSE(mentions(refused, "drop what exists")) << refused.output;
  args.insert(args.end(), {"--no-owner", "--no-acl"});
  auto run = run_pgblit(args);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM deals"), "300");
  EXPECT_EQ(target_value("SELECT tableowner FROM pg_tables WHERE tablename = 'deals'"), role);
}

}  // namespace
}  // namespace pgblit::test
