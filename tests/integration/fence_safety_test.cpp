// The source is read whole, the fence holds, and hooks see no secret (issue 20, items 4, 8,
// 12, 16 and the hanging hook):
// - a source role that row-level security filters is refused (copy exit 2, plan no-go), while
//   the table's owner copies every row;
// - --fence run by the database's owner refuses sessions it cannot end (naming them and
//   pg_signal_backend) before changing anything, and ends them all once it may;
// - --fence-revoke is refused while PUBLIC has CONNECT, and without --fence;
// - the lifted ACL is exactly the one before (SELECT datacl FROM pg_database);
// - clean --all keeps the fence records while a fence is in place, so unfence still works;
// - hooks get SOURCE/TARGET_DATABASE_URL without the password, and the wait for hooks at
//   exit is one timeout in all.
// Roles are cluster-wide: each test's roles carry a suffix of its own and are dropped at the end.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class FenceSafetyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    suffix_ = std::to_string(std::hash<std::string>{}(db_) % 100000000);
    source_sql("CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g");
    target_sql("CREATE TABLE t (id int, v text)");  // no index: nothing deferred, the load is the first lock
  }
  void TearDown() override {
    if (roles_.empty()) return;
    auto admin = admin_session();
    admin.exec("ALTER DATABASE \"" + db_ + "\" OWNER TO postgres");
    {
      auto db = pg::Connection::open(source_url(), "cleanup");
      db.exec("SET default_transaction_read_only = off");  // a failed test may have left a fence
      for (const auto& role : roles_) db.exec("DROP OWNED BY " + role);
    }
    for (const auto& role : roles_) admin.exec("DROP OWNED BY " + role + "; DROP ROLE " + role);
  }
  // A LOGIN role of this test's own (not a superuser).
  std::string make_role(const std::string& stem, const std::string& options = "") {
    std::string role = stem + "_" + suffix_;
    admin_session().exec("DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role + " LOGIN " + options);
    roles_.push_back(role);
    return role;
  }
  std::string source_url_of(const std::string& role) const {
    std::string url = source_url();
    return url.replace(url.find("postgres@"), 9, role + "@");
  }
  // A session on the source cluster's postgres database: not a session of the test database.
  pg::Connection admin_session() const { return pg::Connection::open(cluster_url(source_port(), "postgres"), "admin"); }
  std::string admin_value(const std::string& sql) {
    auto r = admin_session().exec_params(sql, {db_});
    return r.rows() == 0 || r.is_null(0, 0) ? "" : r.text(0, 0);
  }
  std::string datacl() { return admin_value("SELECT COALESCE(datacl::text, 'NULL') FROM pg_database WHERE datname = $1"); }
  std::string database_settings() {
    return admin_value("SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                       "WHERE d.datname = $1");
  }
  // Waits until the fence is set on the source (its setting committed), polling the catalog.
  void wait_for_fence() {
    ASSERT_TRUE(eventually([&] { return database_settings() == "1"; })) << "the fence was never set";
  }
  std::string write_on_source(const std::string& url) {
    try {
      auto conn = pg::Connection::open(url, "writer");
      conn.exec("INSERT INTO t VALUES (-1, 'written')");
      conn.exec("DELETE FROM t WHERE id = -1");
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  static bool alive(pg::Connection& conn) {
    try {
      conn.exec("SELECT 1");
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  std::string suffix_;
  std::vector<std::string> roles_;
};

TEST_F(FenceSafetyTest, a_source_role_that_row_level_security_filters_is_refused_and_the_owner_copies_every_row) {
  source_sql("CREATE TABLE secret (id int PRIMARY KEY, org int); "
             "INSERT INTO secret SELECT g, g % 5 FROM generate_series(1, 50000) g; "
             "ALTER TABLE secret ENABLE ROW LEVEL SECURITY; CREATE POLICY org_one ON secret USING (org = 1)");
  target_sql("CREATE TABLE secret (id int PRIMARY KEY, org int)");
  std::string reader = make_role("rls_reader");
  std::string owner = make_role("rls_owner");
  source_sql("GRANT SELECT ON t, secret TO " + reader + "; GRANT SELECT ON t TO " + owner +
             "; ALTER TABLE secret OWNER TO " + owner);
  ASSERT_EQ(pg::Connection::open(source_url_of(reader), "reader").exec("SELECT count(*) FROM secret").text(0, 0), "10000")
      << "the policy lets this role see a fifth of the rows";

  auto copied = run_pgblit({"copy", "--source", source_url_of(reader), "--target", target_url(), "--yes"});
  EXPECT_EQ(copied.exit_code, 2) << copied.output;
  EXPECT_TRUE(mentions(copied, "row-level security")) << copied.output;
  EXPECT_TRUE(mentions(copied, "\"public\".\"secret\"")) << copied.output;
  EXPECT_TRUE(mentions(copied, "BYPASSRLS")) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM secret"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");

  auto plan = run_pgblit({"plan", "--source", source_url_of(reader), "--target", target_url()});
  EXPECT_EQ(plan.exit_code, 5) << plan.output;
  EXPECT_TRUE(mentions(plan, "no-go")) << plan.output;
  EXPECT_TRUE(mentions(plan, "\"public\".\"secret\"")) << plan.output;

  // FORCE ROW LEVEL SECURITY filters the owner too.
  source_sql("ALTER TABLE secret FORCE ROW LEVEL SECURITY");
  auto forced = run_pgblit({"copy", "--source", source_url_of(owner), "--target", target_url(), "--yes"});
  EXPECT_EQ(forced.exit_code, 2) << forced.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM secret"), "0");

  source_sql("ALTER TABLE secret NO FORCE ROW LEVEL SECURITY");
  auto by_owner = run_pgblit({"copy", "--source", source_url_of(owner), "--target", target_url(), "--yes"});
  EXPECT_EQ(by_owner.exit_code, 0) << by_owner.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM secret"), "50000");
  expect_same_contents("secret");

  auto by_superuser = copy({"--on-existing", "truncate"});
  EXPECT_EQ(by_superuser.exit_code, 0) << by_superuser.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM secret"), "50000");
}

TEST_F(FenceSafetyTest, the_copy_reads_the_source_with_row_security_off) {
  // What the lanes' sessions say of their own setting, through a mapping expression.
  source_sql("CREATE TABLE rs (id int PRIMARY KEY); INSERT INTO rs SELECT generate_series(1, 1000)");
  target_sql("CREATE TABLE rs (id int PRIMARY KEY, row_security text)");
  std::string file = std::filesystem::temp_directory_path() / ("pgblit-rs-" + db_ + ".yaml");
  std::ofstream(file) << "version: 1\ntables:\n  public.rs:\n    columns:\n"
                         "      row_security: {expr: \"current_setting('row_security')\"}\n";
  auto run = copy({"-t", "rs", "--mapping", file});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(target_value("SELECT string_agg(DISTINCT row_security, ',') || ' ' || count(*) FROM rs"), "off 1000");
  std::filesystem::remove(file);
}

TEST_F(FenceSafetyTest, fence_revoke_without_fence_is_refused_and_changes_nothing) {
  std::string app = make_role("norevoke_app");
  auto bystander = pg::Connection::open(source_url(), "bystander");
  auto run = copy({"--fence-revoke", app});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "--fence-revoke works only with --fence")) << run.output;
  EXPECT_TRUE(alive(bystander)) << "no session is ended";
  EXPECT_EQ(database_settings(), "0") << "the source is not made read-only";
  EXPECT_EQ(write_on_source(source_url()), "");
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");
}

TEST_F(FenceSafetyTest, an_owner_fence_refuses_sessions_it_cannot_end_then_ends_them_once_it_may) {
  std::string owner = make_role("fence_owner");
  std::string app = make_role("fence_app");
  source_sql("GRANT SELECT ON t TO " + owner + "; GRANT INSERT, DELETE, SELECT ON t TO " + app +
             "; ALTER DATABASE \"" + db_ + "\" OWNER TO " + owner);
  source_.reset();  // the harness's own superuser session would be one the owner cannot end
  auto app_session = pg::Connection::open(source_url_of(app), "app");
  std::string app_pid = app_session.exec("SELECT pg_backend_pid()").text(0, 0);

  auto refused = run_pgblit({"copy", "--source", source_url_of(owner), "--target", target_url(), "--fence", "--yes"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "pid " + app_pid)) << refused.output;
  EXPECT_TRUE(mentions(refused, "user " + app)) << refused.output;
  EXPECT_TRUE(mentions(refused, "GRANT pg_signal_backend TO " + owner)) << refused.output;
  EXPECT_TRUE(alive(app_session));
  app_session.exec("INSERT INTO t VALUES (-2, 'still writable')");
  EXPECT_EQ(database_settings(), "0") << "nothing changed on the source";
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");

  // A superuser's session: only a superuser may end it, pg_signal_backend or not.
  admin_session().exec("GRANT pg_signal_backend TO " + owner);
  auto superuser_session = pg::Connection::open(source_url(), "superuser");
  auto still = run_pgblit({"copy", "--source", source_url_of(owner), "--target", target_url(), "--fence", "--yes"});
  EXPECT_EQ(still.exit_code, 2) << still.output;
  EXPECT_TRUE(mentions(still, "a superuser")) << still.output;
  EXPECT_TRUE(alive(superuser_session));
  EXPECT_TRUE(alive(app_session));
  EXPECT_EQ(database_settings(), "0");

  superuser_session.exec("DELETE FROM t WHERE id = -2");
  superuser_session = pg::Connection::open(cluster_url(source_port(), "postgres"), "elsewhere");
  auto fenced = run_pgblit({"copy", "--source", source_url_of(owner), "--target", target_url(), "--fence", "--yes"});
  EXPECT_EQ(fenced.exit_code, 0) << fenced.output;
  EXPECT_TRUE(mentions(fenced, "1 other session ended")) << fenced.output;
  EXPECT_FALSE(alive(app_session)) << "the app's session was ended by the fence";
  EXPECT_EQ(database_settings(), "0") << "the fence is lifted";
  source_ = std::make_unique<pg::Connection>(pg::Connection::open(source_url(), "source"));
  expect_same_contents("t");
}

TEST_F(FenceSafetyTest, fence_revoke_while_public_has_connect_is_refused_and_the_acl_stays_null) {
  std::string app = make_role("public_app");
  ASSERT_EQ(datacl(), "NULL");
  auto run = copy({"--fence", "--fence-revoke", app});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(mentions(run, "PUBLIC has CONNECT")) << run.output;
  EXPECT_TRUE(mentions(run, "REVOKE CONNECT ON DATABASE")) << run.output;
  EXPECT_EQ(datacl(), "NULL") << "nothing changed";
  EXPECT_EQ(database_settings(), "0");
  EXPECT_TRUE(alive(*source_)) << "no session was ended";
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");

  // A fence without a revoke leaves a NULL ACL NULL.
  auto fenced = copy({"--fence"});
  EXPECT_EQ(fenced.exit_code, 0) << fenced.output;
  EXPECT_EQ(datacl(), "NULL");
}

TEST_F(FenceSafetyTest, the_lifted_acl_is_exactly_the_one_before_and_the_revoke_held_during_the_run) {
  std::string app = make_role("acl_app");
  std::string other = make_role("acl_other");
  std::string db = "\"" + db_ + "\"";
  source_sql("REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC; GRANT CONNECT ON DATABASE " + db + " TO " + app +
             "; GRANT CONNECT, TEMPORARY ON DATABASE " + db + " TO " + other + " WITH GRANT OPTION");
  std::string before = datacl();
  ASSERT_LT(before.find(app), before.find(other)) << "the app's entry is not the last one: " << before;

  auto holder = pg::Connection::open(target_url(), "holder");
  holder.exec("BEGIN; LOCK TABLE t IN SHARE MODE");  // holds the load while the fence is in place
  PgblitProcess run(copy_args({"--fence", "--fence-revoke", app}));
  wait_for_fence();
  EXPECT_THROW(pg::Connection::open(source_url_of(app), "app"), Error) << "CONNECT is revoked during the run";
  EXPECT_NO_THROW(pg::Connection::open(source_url_of(other), "other"));
  holder.exec("COMMIT");
  auto result = run.wait();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(datacl(), before) << "SELECT datacl FROM pg_database is what it was";
  EXPECT_NO_THROW(pg::Connection::open(source_url_of(app), "app"));
  source_ = std::make_unique<pg::Connection>(pg::Connection::open(source_url(), "source"));
  expect_same_contents("t");
}

TEST_F(FenceSafetyTest, clean_all_keeps_the_fence_records_while_a_fence_is_in_place) {
  ASSERT_EQ(copy().exit_code, 0);  // a run catalog with a run in it
  auto holder = pg::Connection::open(target_url(), "holder");
  holder.exec("BEGIN; LOCK TABLE t IN SHARE MODE");
  PgblitProcess run(copy_args({"--fence", "--on-existing", "truncate"}));
  wait_for_fence();
  run.kill_now();
  run.wait();
  holder.exec("COMMIT");
  ASSERT_NE(write_on_source(source_url()).find("read-only transaction"), std::string::npos) << "the fence outlives pgblit";

  auto clean = run_pgblit({"clean", "--all", "--force", "--yes", "--target", target_url()});
  EXPECT_EQ(clean.exit_code, 2) << clean.output;
  EXPECT_TRUE(mentions(clean, "pgblit unfence")) << clean.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.fences WHERE lifted_at IS NULL"), "1");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.runs"), "1") << "nothing dropped";

  auto lifted = run_pgblit({"unfence", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(lifted.exit_code, 0) << lifted.output;
  EXPECT_TRUE(mentions(lifted, "lifted 1 fence")) << lifted.output;
  EXPECT_EQ(write_on_source(source_url()), "");
  auto cleaned = run_pgblit({"clean", "--all", "--force", "--yes", "--target", target_url()});
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgblit'"), "0");
}

// Sets environment variables for the pgblit processes a test starts, and unsets them after.
struct Environment {
  std::vector<std::string> names;
  void set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names.push_back(name);
  }
  ~Environment() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};

TEST_F(FenceSafetyTest, hooks_get_connection_strings_without_passwords_and_exit_waits_one_timeout_for_them) {
  namespace fs = std::filesystem;
  std::string dir = fs::temp_directory_path() / ("pgblit-hooks-" + db_);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string secret = "Sup3rSecretPw";
  auto with_password = [&](std::string url) { return url.replace(url.find("postgres@"), 9, "postgres:" + secret + "@"); };
  {
    Environment env;
    env.set("SOURCE_DATABASE_URL", with_password(source_url()) + "?sslmode=disable");
    env.set("TARGET_DATABASE_URL", with_password(target_url()));
    env.set("PGPASSWORD", secret);
    env.set("SOME_TOKEN", "x-" + secret + "-y");
    std::string hook = "env > " + dir + "/env.$PGBLIT_EVENT; psql \"$SOURCE_DATABASE_URL\" -Atc 'SELECT count(*) FROM t' "
                       ">> " + dir + "/psql.txt";
    auto run = run_pgblit({"copy", "--yes", "--on-event", hook, "--progress", "off", "--run-dir", dir});
    ASSERT_EQ(run.exit_code, 0) << run.output;
  }
  std::ifstream file(dir + "/env.run_finished");
  std::stringstream seen;
  seen << file.rdbuf();
  std::string env = seen.str();
  EXPECT_EQ(env.find(secret), std::string::npos) << env;
  EXPECT_NE(env.find("SOURCE_DATABASE_URL="), std::string::npos) << env;
  EXPECT_NE(env.find("sslmode='disable'"), std::string::npos) << "every other setting is kept: " << env;
  EXPECT_NE(env.find("TARGET_DATABASE_URL="), std::string::npos) << env;
  EXPECT_EQ(env.find("PGPASSWORD="), std::string::npos) << env;
  EXPECT_EQ(env.find("SOME_TOKEN="), std::string::npos) << env;
  std::ifstream psql(dir + "/psql.txt");
  std::string first;
  std::getline(psql, first);
  EXPECT_EQ(first, "20000") << "the hook's SOURCE_DATABASE_URL still connects";

  // A hook that hangs: at exit, one timeout in all, not one per queued event. The fact, not a
  // stopwatch: the hooks still queued when that timeout ran out are named as not run.
  target_sql("TRUNCATE t");
  auto hung = copy({"--on-existing", "truncate", "--progress", "off", "--on-event", "sleep 60", "--on-event-timeout", "3"});
  EXPECT_EQ(hung.exit_code, 0) << hung.output;
  EXPECT_TRUE(mentions(hung, "hooks not run (")) << "several queued hooks skipped at exit: " << hung.output;
  EXPECT_TRUE(mentions(hung, "the hooks at exit had their 3 s")) << hung.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pgblit::test
