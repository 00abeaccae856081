// What restore and rollback owe the target (issue 20, items 2 and 3 and the first invariant):
// a failed restore rebuilds the keys of the tables it loaded whole and names what stays
// dropped and the command that brings it back; a restore run again never moves a sequence
// back, and never touches the sequences of tables it did not restore; neither restore nor
// rollback (even --force) writes to a table whose indexes another run left dropped, and a
// restore waits for no other command's table: it refuses while a copy writes it.
//
// The spool is a backup of the source (no target involved); the target is the test's own
// database. Moments are facts: a copy is killed while a lane waits at the gate.
#include <filesystem>
#include <memory>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

const char* kSchema = R"(
CREATE TABLE accounts (id bigint PRIMARY KEY, name text UNIQUE);
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);
CREATE INDEX notes_body ON notes (body);)";

class RestoreSafetyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    spool_ = fs::temp_directory_path() / ("pgblit-restore-safety-" + db_);
    fs::remove_all(spool_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(spool_, ignored);
  }
  void backup(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"backup", "--source", source_url(), "--spool", spool_.string(), "--chunk-size", "1MB"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto made = run_pgblit(args);
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  RunResult restore(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"restore", "--spool", spool_.string(), "--target", target_url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pgblit(args);
  }
  // What a DBA compares: the schema as pg_dump writes it.
  std::string target_schema() { return shell_output("pg_dump --schema-only -n public '" + target_url() + "' | grep -v '^\\\\'"); }
  std::string indexes_of(const std::string& table) {
    return target_value("SELECT COALESCE(string_agg(indexname, ',' ORDER BY indexname), '') FROM pg_indexes "
                        "WHERE schemaname = 'public' AND tablename = '" + table + "'");
  }
  // A copy of t held at the gate while it loads, its primary key and index dropped (run `run`).
  std::unique_ptr<PgblitProcess> a_copy_of_t_held_at_the_gate(const std::string& run) {
    gate_inserts_into("t");
    close_gate();
    auto held = std::make_unique<PgblitProcess>(copy_args({"-t", "public.t", "--log-level", "warn"}));
    EXPECT_TRUE(a_lane_waits_at_the_gate()) << held->output_so_far();
    EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'dropped' AND run_id = " + run), "2");
    EXPECT_EQ(indexes_of("t"), "");
    return held;
  }
  void kill_and_open_gate(PgblitProcess& run) {
    run.kill_now();
    run.wait();
    open_gate();
  }

  fs::path spool_;
};

TEST_F(RestoreSafetyTest, a_failed_restore_rebuilds_the_loaded_tables_keys_and_names_what_stays_dropped) {
  both_sql(kSchema);
  source_sql("INSERT INTO accounts SELECT g, 'account ' || g || repeat('x', 40) FROM generate_series(1, 30000) g;"
             "INSERT INTO notes SELECT g, g % 1000 + 1, repeat('n', g % 50) FROM generate_series(1, 5000) g; ANALYZE");
  std::string schema_before = target_schema();
  backup();
  // The notes' chunk file is cut short: the accounts (loaded first, their parent) are whole.
  std::ifstream in(spool_ / "manifest.json");
  auto manifest = nlohmann::json::parse(in);
  fs::path notes_file;
  for (const auto& c : manifest["chunks"]) {
    if (manifest["tables"][c["table"].get<size_t>()]["target"] == "\"public\".\"notes\"") {
      notes_file = spool_ / c["file"].get<std::string>();
    }
  }
  ASSERT_FALSE(notes_file.empty()) << manifest.dump(1);
  fs::copy_file(notes_file, notes_file.string() + ".good");
  fs::resize_file(notes_file, fs::file_size(notes_file) - 50);

  auto failed = restore({"-j", "1"});
  ASSERT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_TRUE(mentions(failed, notes_file.string())) << failed.output;
  EXPECT_EQ(indexes_of("accounts"), "accounts_name_key,accounts_pkey") << "the loaded table's keys came back: "
                                                                        << failed.output;
  EXPECT_EQ(indexes_of("notes"), "") << "the notes' stay dropped until the restore is finished";
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_constraint WHERE conrelid = 'notes'::regclass"), "0");
  EXPECT_TRUE(mentions(failed, "3 indexes and constraints of \"public\".\"notes\" stay dropped until then")) << failed.output;
  EXPECT_TRUE(mentions(failed, "to get them back: finish run 1 (run the same pgblit restore command again)"))
      << failed.output;
  auto status = run_pgblit({"status", "--target", target_url()});
  EXPECT_TRUE(mentions(status, "dropped on the target and not rebuilt: 3 indexes and constraints of \"public\".\"notes\""))
      << status.output;
  expect_same_contents("accounts");

  // The file put back, the same command finishes it: data and schema as a DBA compares them.
  fs::rename(notes_file.string() + ".good", notes_file);
  auto finished = restore({"-j", "1"});
  ASSERT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_EQ(target_schema(), schema_before);
  expect_same_contents("accounts");
  expect_same_contents("notes");
}

TEST_F(RestoreSafetyTest, a_restore_run_again_never_moves_a_sequence_back_nor_sets_one_of_another_table) {
  both_sql("CREATE TABLE customers (id serial PRIMARY KEY, name text); CREATE TABLE orders (id serial PRIMARY KEY, v int)");
  source_sql("INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 500) g;"
             "INSERT INTO orders (v) SELECT g FROM generate_series(1, 400) g");
  backup();
  // The target's orders are the application's: their sequence is behind the spool's 400.
  target_sql("SELECT setval('orders_id_seq', 7)");

  auto first = restore({"-t", "public.customers"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  expect_same_contents("customers");
  EXPECT_EQ(target_value("SELECT last_value FROM customers_id_seq"), "500");
  EXPECT_EQ(target_value("SELECT last_value FROM orders_id_seq"), "7") << "not a table the restore wrote";

  // The application inserts; the same restore is run again.
  target_sql("INSERT INTO customers (name) SELECT 'app' FROM generate_series(1, 5)");
  ASSERT_EQ(target_value("SELECT last_value FROM customers_id_seq"), "505");
  auto again = restore({"-t", "public.customers"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(target_value("SELECT last_value FROM customers_id_seq"), "505") << again.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM customers"), "505") << "the application's rows are kept";
  EXPECT_EQ(target_value("INSERT INTO customers (name) VALUES ('next') RETURNING id"), "506");
  EXPECT_EQ(target_value("SELECT last_value FROM orders_id_seq"), "7");
}

TEST_F(RestoreSafetyTest, a_restore_refuses_a_table_a_copy_holds_or_whose_keys_a_killed_copy_left_dropped) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE INDEX t_v ON t (v)");
  source_sql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g");
  backup({"-t", "public.t"});
  auto held = a_copy_of_t_held_at_the_gate("1");
  // One command per target table, whatever it is: the copy holds t.
  auto while_held = restore();
  EXPECT_EQ(while_held.exit_code, 2) << while_held.output;
  EXPECT_TRUE(mentions(while_held, "another pgblit command is writing to \"public\".\"t\"")) << while_held.output;
  kill_and_open_gate(*held);

  auto refused = restore();
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "2 of \"public\".\"t\"'s indexes and constraints were dropped by run 1 (catalog pgblit), "
                                "which has not rebuilt them: a restore now would leave it without them for good"))
      << refused.output;
  EXPECT_TRUE(mentions(refused, "pgblit copy --resume 1")) << refused.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.runs"), "1") << "the refused restore recorded nothing";
  EXPECT_EQ(indexes_of("t"), "");

  auto resumed = copy({"--resume", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(indexes_of("t"), "t_pkey,t_v");
  expect_same_contents("t");
}

TEST_F(RestoreSafetyTest, a_rollback_even_forced_refuses_tables_whose_keys_a_later_run_left_dropped) {
  both_sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE INDEX t_v ON t (v)");
  source_sql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g");
  auto first = copy({"-t", "public.t"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // The DBA empties the table to load it afresh; that run is killed after dropping its keys.
  target_sql("TRUNCATE t");
  auto held = a_copy_of_t_held_at_the_gate("2");
  kill_and_open_gate(*held);

  auto refused = run_pgblit({"rollback", "1", "--target", target_url(), "--yes", "--force"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "dropped by run 2 (catalog pgblit), which has not rebuilt them: a rollback now"))
      << refused.output;
  EXPECT_TRUE(mentions(refused, "pgblit copy --resume 2")) << refused.output;
  EXPECT_EQ(target_value("SELECT status FROM pgblit.runs WHERE id = 1"), "done");
  EXPECT_EQ(indexes_of("t"), "");

  auto resumed = copy({"--resume", "2"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(indexes_of("t"), "t_pkey,t_v");
  expect_same_contents("t");
}

}  // namespace
}  // namespace pgblit::test
