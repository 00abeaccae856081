// The bad-input suite: mistakes a person makes at 3 a.m., one row each. Every row runs the real
// pgblit against the test clusters and asserts the documented exit code, that the message
// names the object and the fix, that no password given on the command line appears in what
// pgblit printed, and what the target holds afterwards: exactly what it held before for usage
// and configuration errors (exit 2), verification (exit 3) and the dry run (exit 5), only committed, recorded
// chunks otherwise. Every exit code of docs/exit-codes.md has a row.
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "harness.hpp"

namespace pgblit::test {
namespace {

constexpr const char* kPassword = "Suite-Secret-77";  // in every URI; trust auth ignores it
constexpr const char* kPlainPassword = "Plain-Secret-55";

// What the target may hold after the row's command.
enum class After {
  Unchanged,      // every relation, row count and sequence as before
  DataUnchanged,  // the same outside the run catalog (clean)
  CommittedOnly,  // the run's table holds exactly the rows of its chunks recorded done
};

struct Case {
  std::string name;
  std::vector<std::string> args;  // {S} {T}: source and target URIs with a password; {RO}: a read-only target;
                                  // {PS} {PT}: as the unprivileged role; {DIR}: a scratch folder
  int exit_code;
  std::vector<std::string> says;  // each must appear: the object, and the fix
  After after = After::Unchanged;
  std::string table{};            // for CommittedOnly: the target table
  std::vector<std::string> first{};  // run before, on this case's own databases (exit code `first_exit`)
  int first_exit = 0;
};

std::vector<Case> cases();
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Each row is a test of its own, on its own fresh database pair: no row depends on another.
class BadInputTest : public DatabasePair, public ::testing::WithParamInterface<Case> {
 protected:
  void SetUp() override {
    set_up_databases("badinput_" + GetParam().name);
    for (auto* conn : {source_.get(), target_.get()}) {
      // Tests run in parallel: a role created meanwhile by another is a unique violation.
      conn->exec(std::string("DO $$ BEGIN CREATE ROLE pgblit_plain LOGIN PASSWORD '") + kPlainPassword +
                 "'; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
    }
    both_sql("CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, v text);"
             "CREATE TABLE app.orders (id bigserial PRIMARY KEY, item int, qty int);"
             "CREATE SCHEMA odd; CREATE TABLE odd.filled (x int); CREATE TABLE odd.secret (x int);"
             "CREATE TABLE odd.tiny (x int); CREATE TABLE odd.differs (id int PRIMARY KEY, v text)");
    source_sql("INSERT INTO app.items SELECT g, md5(g::text) FROM generate_series(1, 2000) g;"
               "INSERT INTO app.orders (item, qty) SELECT g % 2000 + 1, g FROM generate_series(1, 1000) g;"
               "CREATE TABLE odd.extra (x int); CREATE TABLE odd.viewed (x int);"
               "CREATE TABLE odd.cols (id int, extra text, amount text);"
               "CREATE TABLE odd.rejecting (id int PRIMARY KEY, v int);"
               "INSERT INTO odd.rejecting SELECT g, g FROM generate_series(1, 1000) g;"
               "INSERT INTO odd.filled VALUES (1); INSERT INTO odd.tiny SELECT generate_series(1, 10);"
               "INSERT INTO odd.differs SELECT g, 'v' || g FROM generate_series(1, 100) g;"
               "GRANT USAGE ON SCHEMA app, odd TO pgblit_plain; GRANT SELECT ON app.items TO pgblit_plain; ANALYZE");
    target_sql("CREATE VIEW odd.viewed AS SELECT 1 AS x; CREATE TABLE odd.cols (id int, amount int);"
               "CREATE TABLE odd.rejecting (id int, v int CHECK (v % 100 <> 0));"
               "INSERT INTO odd.filled VALUES (2);"
               "INSERT INTO odd.differs SELECT g, CASE WHEN g = 42 THEN 'changed' ELSE 'v' || g END "
               "FROM generate_series(1, 100) g;"
               "GRANT USAGE ON SCHEMA app TO pgblit_plain; GRANT SELECT ON app.items TO pgblit_plain");
    // A read-only target database, and one finished run in the catalog (run 1).
    auto admin = pg::Connection::open(cluster_url(target_port(), "postgres"), "admin");
    admin.exec("DROP DATABASE IF EXISTS \"" + db_ + "_ro\" WITH (FORCE)");
    admin.exec("CREATE DATABASE \"" + db_ + "_ro\"");
    {
      auto ro = pg::Connection::open(cluster_url(target_port(), db_ + "_ro"), "admin");
      ro.exec("CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, v text);"
              "CREATE TABLE app.orders (id bigserial PRIMARY KEY, item int, qty int)");
    }
    admin.exec("ALTER DATABASE \"" + db_ + "_ro\" SET default_transaction_read_only = on");
    auto first = copy({"-t", "odd.tiny", "--yes"});
    ASSERT_EQ(first.exit_code, 0) << first.output;
    scratch_ = "/tmp/pgblit-bad-input-" + std::to_string(getpid());
    std::system(("rm -rf " + scratch_ + " && mkdir -p " + scratch_ + " && touch " + scratch_ + "/a-file").c_str());
  }
  void TearDown() override { std::system(("rm -rf " + scratch_).c_str()); }

  std::string url(int port, const std::string& db, const std::string& user, const std::string& password) const {
    return "postgresql://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port) + "/" + db;
  }

  std::vector<std::string> expand(const std::vector<std::string>& args) const {
    std::map<std::string, std::string> values{
        {"{S}", url(source_port(), db_, "postgres", kPassword)},
        {"{T}", url(target_port(), db_, "postgres", kPassword)},
        {"{RO}", url(target_port(), db_ + "_ro", "postgres", kPassword)},
        {"{PS}", url(source_port(), db_, "pgblit_plain", kPlainPassword)},
        {"{PT}", url(target_port(), db_, "pgblit_plain", kPlainPassword)},
        {"{DIR}", scratch_},
        {"{DB}", db_},
        {"{TPORT}", std::to_string(target_port())}};
    std::vector<std::string> out;
    for (std::string a : args) {
      for (const auto& [key, value] : values) {
        for (size_t at = a.find(key); at != std::string::npos; at = a.find(key)) a.replace(at, key.size(), value);
      }
      out.push_back(a);
    }
    return out;
  }

  // Every relation of the target with its rows (tables) or value (sequences).
  std::string target_state(bool with_catalog = true) {
    return target_value(std::string(R"(
SELECT string_agg(format('%s.%s:%s', n.nspname, c.relname,
                         CASE c.relkind WHEN 'S' THEN (xpath('/row/v/text()', query_to_xml(
                                format('SELECT last_value AS v FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
                                        WHEN 'v' THEN 'view'
                                        ELSE (xpath('/row/n/text()', query_to_xml(
                                format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
                         END), ', ' ORDER BY n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_')") + (with_catalog ? "" : " AND n.nspname <> 'pgblit'"));
  }

  std::string scratch_;
};

TEST_P(BadInputTest, gets_its_exit_code_a_message_naming_object_and_fix_and_loses_nothing) {
  const Case& c = GetParam();
  if (!c.first.empty()) {
    auto first = run_pgblit(expand(c.first));
    ASSERT_EQ(first.exit_code, c.first_exit) << first.output;
  }
  std::string before = target_state(), data_before = target_state(false);
  auto run = run_pgblit(expand(c.args));
  EXPECT_EQ(run.exit_code, c.exit_code) << run.output;
  for (const auto& s : c.says) EXPECT_NE(run.output.find(s), std::string::npos) << "missing: " << s << "\n" << run.output;
  for (const char* secret : {kPassword, kPlainPassword, "Sw0rd", "fish", "Wr0ng-Battery-Staple"}) {
    EXPECT_EQ(run.output.find(secret), std::string::npos) << "leaked " << secret << ":\n" << run.output;
  }
  if (c.after == After::Unchanged) {
    EXPECT_EQ(target_state(), before) << run.output;
  } else if (c.after == After::DataUnchanged) {
    EXPECT_EQ(target_state(false), data_before) << run.output;
  } else if (c.after == After::CommittedOnly) {
    EXPECT_EQ(target_value("SELECT count(*) FROM " + c.table),
              target_value("SELECT coalesce(sum(rows), 0) FROM pgblit.chunks WHERE status = 'done' AND "
                           "run_id = (SELECT max(id) FROM pgblit.runs)"))
        << run.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, BadInputTest, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string name = info.param.name;  // "chunk size -5" -> chunk_size__5
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
});

// Every exit code docs/exit-codes.md lists has a row (each row checks its run exits so).
TEST(BadInputRows, cover_every_exit_code_and_are_named_apart) {
  std::set<int> codes;
  std::set<std::string> names;
  for (const auto& c : cases()) {
    codes.insert(c.exit_code);
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
  EXPECT_GE(cases().size(), 40u);
  EXPECT_EQ(codes, (std::set<int>{0, 1, 2, 3, 4, 5}));
}

std::vector<Case> cases() {
  return {
      // Usage: flags and values (exit 2, nothing written).
      {"unknown command", {"copyy"}, 2, {"unknown command 'copyy'", "did you mean 'copy'"}},
      {"no source", {"copy", "--target", "{T}"}, 2, {"no source server given", "--source"}},
      {"no target for clean", {"clean", "--all"}, 2, {"no target server given", "--target"}},
      {"chunk size 0", {"copy", "--source", "{S}", "--target", "{T}", "--chunk-size", "0"}, 2, {"--chunk-size", "at least 64kB"}},
      {"chunk size -5", {"copy", "--source", "{S}", "--target", "{T}", "--chunk-size", "-5"}, 2, {"--chunk-size"}},
      {"max rejects -1", {"copy", "--source", "{S}", "--target", "{T}", "--max-rejects", "-1"}, 2, {"--max-rejects", "0 or more"}},
      {"retry timeout -1", {"copy", "--source", "{S}", "--target", "{T}", "--retry-timeout", "-1"}, 2, {"--retry-timeout", "0 or more"}},
      {"retry timeout nan", {"copy", "--source", "{S}", "--target", "{T}", "--retry-timeout", "nan"}, 2, {"--retry-timeout", "0 or more"}},
      {"join 0", {"copy", "--source", "{S}", "--target", "{T}", "--join", "0"}, 2, {"--join", "not a run id"}},
      {"resume 0", {"copy", "--source", "{S}", "--target", "{T}", "--resume", "0"}, 2, {"'0' is not a run id", "positive"}},
      {"resume abc", {"copy", "--source", "{S}", "--target", "{T}", "--resume", "abc"}, 2, {"'abc' is not a run id"}},
      {"empty catalog schema", {"copy", "--source", "{S}", "--target", "{T}", "--catalog-schema", ""}, 2, {"--catalog-schema", "needs a name"}},
      {"system catalog schema", {"copy", "--source", "{S}", "--target", "{T}", "--catalog-schema", "pg_catalog"}, 2, {"pg_catalog is a system schema"}},
      {"jobs 0", {"copy", "--source", "{S}", "--target", "{T}", "-j", "0"}, 2, {"--jobs"}},
      {"on-existing typo", {"copy", "--source", "{S}", "--target", "{T}", "--on-existing", "truncat"}, 2, {"--on-existing", "truncate"}},
      {"verify mode typo", {"copy", "--source", "{S}", "--target", "{T}", "--verify", "some"}, 2, {"--verify"}},
      {"max diffs -1", {"verify", "--source", "{S}", "--target", "{T}", "--max-diffs", "-1"}, 2, {"--max-diffs", "0 or more"}},
      // Connections (2 for configuration, 1 for a server that cannot be reached).
      {"bare % in URI password", {"copy", "--source", "postgresql://u:Sw0rd%zzfish@127.0.0.1/x", "--target", "{T}"}, 2,
       {"source connection string is not valid", "percent-encoded"}},
      {"%00 in URI password", {"copy", "--source", "{S}", "--target", "postgresql://u:Sw0rd%00fish@127.0.0.1/x"}, 2,
       {"target connection string is not valid", "%25"}},
      {"unclosed IPv6 bracket", {"copy", "--source", "postgresql://u:Sw0rdfish@[::1/db", "--target", "{T}"}, 2,
       {"source connection string is not valid"}},
      {"space in key=value password", {"plan", "--source", "host=127.0.0.1 password=Sw0rd fish", "--target", "{T}"}, 2,
       {"source connection string is not valid", "key=value"}},
      {"unterminated quote", {"plan", "--source", "{S}", "--target", "host=127.0.0.1 password='Sw0rdfish"}, 2,
       {"target connection string is not valid"}},
      {"wrong password",
       {"copy", "--source", "{S}", "--target",
        "postgresql://pgblit_password_check:Wr0ng-Battery-Staple@127.0.0.1:{TPORT}/{DB}"},
       2, {"cannot connect to the target", "password"}},
      {"unknown database", {"copy", "--source", "{S}", "--target", "postgresql://postgres:x@127.0.0.1:{TPORT}/no_such_db"}, 2,
       {"\"no_such_db\" does not exist", "database name"}},
      {"unknown host", {"copy", "--source", "{S}", "--target", "postgresql://postgres:Sw0rdfish@no-such-host.invalid/x"}, 1,
       {"cannot connect to the target", "unreachable"}},
      {"closed port", {"copy", "--source", "postgresql://postgres:Sw0rdfish@127.0.0.1:1/x", "--target", "{T}"}, 1,
       {"cannot connect to the source", "unreachable", "pg_isready"}},
      // Selection and schema (2).
      {"table pattern matches nothing", {"copy", "--source", "{S}", "--target", "{T}", "-t", "no_such_table"}, 2,
       {"no table on the source matches table 'no_such_table'"}},
      {"schema pattern matches nothing", {"copy", "--source", "{S}", "--target", "{T}", "-n", "no_such_schema"}, 2,
       {"no_such_schema"}},
      {"table missing on target", {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.extra"}, 2,
       {"table \"odd\".\"extra\" does not exist on the target", "-T"}},
      {"view on target", {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.viewed"}, 2,
       {"\"odd\".\"viewed\" is a table on the source but a view on the target"}},
      {"missing column and incompatible type", {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.cols"}, 2,
       {"column \"extra\" of \"odd\".\"cols\" does not exist", "is text on the source but integer on the target"}},
      {"target already holds rows", {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.filled"}, 2,
       {"already hold rows: \"odd\".\"filled\"", "--on-existing"}},
      {"source is the target", {"copy", "--source", "{S}", "--target", "{S}", "-n", "app"}, 2,
       {"the same database", "--target"}},
      {"source is the target, truncating",
       {"copy", "--source", "{T}", "--target", "host=127.0.0.1 port={TPORT} dbname={DB} user=postgres password=Sw0rdfish", "-t",
        "odd.filled", "--on-existing", "truncate", "--yes"},
       2, {"the same database", "another database"}},
      {"plan on one database", {"plan", "--source", "{T}", "--target", "{T}"}, 2, {"the same database"}},
      {"verify a missing table", {"verify", "--source", "{S}", "--target", "{T}", "-t", "odd.extra"}, 2,
       {"\"odd\".\"extra\" does not exist on the target"}},
      // Privileges and the target's state (2, found before anything is written).
      {"source role without SELECT", {"copy", "--source", "{PS}", "--target", "{T}", "-n", "app"}, 2,
       {"may not read \"app\".\"orders\"", "GRANT SELECT"}},
      {"target role without INSERT", {"copy", "--source", "{S}", "--target", "{PT}", "-t", "app.items"}, 2,
       {"may not INSERT \"app\".\"items\"", "GRANT INSERT", "run catalog"}},
      {"disable triggers without superuser", {"copy", "--source", "{S}", "--target", "{PT}", "-t", "app.items", "--disable-triggers"},
       2, {"--disable-triggers needs a superuser", "superuser"}},
      {"read-only target", {"copy", "--source", "{S}", "--target", "{RO}", "-n", "app"}, 2,
       {"read-only (default_transaction_read_only = on)", "writable target"}},
      {"more jobs than connection slots", {"copy", "--source", "{S}", "--target", "{T}", "-n", "app", "-j", "200"}, 2,
       {"-j 200 needs", "max_connections", "lower -j"}},
      {"catalog schema holds copied tables", {"copy", "--source", "{S}", "--target", "{T}", "-n", "app", "--catalog-schema", "app"},
       2, {"the run catalog schema \"app\" holds \"app\".\"items\"", "--catalog-schema"}},
      {"rejects folder under a file",
       {"copy", "--source", "{S}", "--target", "{T}", "-n", "app", "--max-rejects", "5", "--rejects-dir", "{DIR}/a-file/rejects"},
       2, {"cannot write rejected rows to", "--rejects-dir"}},
      {"copy without a terminal or --yes", {"copy", "--source", "{S}", "--target", "{T}", "-t", "app.items"}, 2,
       {"About to copy 1 tables", "into postgresql://postgres@127.0.0.1", "no terminal to confirm", "--yes"}},
      // Runs (2).
      {"resume a finished run", {"copy", "--source", "{S}", "--target", "{T}", "--resume", "1"}, 2,
       {"run 1 finished at", "nothing to resume", "without --resume"}},
      {"join a finished run", {"copy", "--source", "{S}", "--target", "{T}", "--join", "1"}, 2, {"run 1 finished at", "nothing to join"}},
      {"resume a run that does not exist", {"copy", "--source", "{S}", "--target", "{T}", "--resume", "99"}, 2,
       {"run 99 does not exist", "SELECT id"}},
      // Clean (2, nothing dropped).
      {"clean a data schema", {"clean", "--all", "--target", "{T}", "--catalog-schema", "odd", "--yes"}, 2,
       {"\"odd\" holds no pgblit run catalog", "--catalog-schema"}},
      {"clean public", {"clean", "--all", "--target", "{T}", "--catalog-schema", "public", "--yes"}, 2,
       {"\"public\" holds no pgblit run catalog"}},
      {"clean -5", {"clean", "-5", "--target", "{T}", "--yes"}, 2, {"'-5' is not a run id"}},
      {"clean a run that does not exist", {"clean", "99", "--target", "{T}", "--yes"}, 2, {"run 99 does not exist", "nothing dropped"}},
      {"clean without saying what", {"clean", "--target", "{T}", "--yes"}, 2, {"a RUN_ID, or --all"}},
      {"clean both a run and all", {"clean", "1", "--all", "--target", "{T}", "--yes"}, 2, {"a RUN_ID, or --all"}},
      {"clean without a terminal or --yes", {"clean", "1", "--target", "{T}"}, 2, {"no terminal to confirm", "--yes"}},
      // The dry run's no-go (5: nothing is written).
      {"dry run of a copy that cannot be planned", {"plan", "--source", "{S}", "--target", "{T}", "-t", "odd.extra"}, 5,
       {"\"odd\".\"extra\" does not exist on the target", "no-go"}},
      {"dry run into a target that holds rows", {"copy", "--dry-run", "--source", "{S}", "--target", "{T}", "-t", "odd.filled"},
       5, {"[target not empty] \"odd\".\"filled\"", "--on-existing truncate", "no-go: 1 error"}},
      // Verification (3: the target is read, never written).
      {"verify finds a changed row", {"verify", "--source", "{S}", "--target", "{T}", "-t", "odd.differs"}, 3,
       {"changed: 42", "DIFFERENT"}},
      // Runtime (1) and rejects (4): only committed, recorded chunks stay.
      {"a row the target refuses", {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.rejecting", "--yes"}, 1,
       {"violates check constraint", "\"odd\".\"rejecting\"", "pgblit copy --resume"}, After::CommittedOnly, "odd.rejecting"},
      {"clean the failed run", {"clean", "2", "--target", "{T}", "--yes"}, 0, {"dropped run 2 (failed"}, After::DataUnchanged, "",
       {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.rejecting", "--yes"}, 1},
      {"rejects within budget",
       {"copy", "--source", "{S}", "--target", "{T}", "-t", "odd.rejecting", "--max-rejects", "10", "--rejects-dir", "{DIR}/rejects",
        "--yes"},
       4, {"10 rejected rows", "/rejects"}, After::CommittedOnly, "odd.rejecting"},
  };
}

}  // namespace
}  // namespace pgblit::test
