// pgblit rollback restores only what is still the run's and checks before it changes: later
// runs' and the application's rows are never silently deleted (refused, naming them, unless
// --force); a missing or damaged backup is found before anything is emptied; a reload that
// fails leaves no index dropped and a rerun finishes it, as it does after a kill. And pgblit
// owns only the catalog tables it made: a user's table of a catalog table's name is refused
// at creation and kept by clean. (Each failed before: the rollback deleted later rows, emptied
// the tables before it found its backup missing, and clean dropped the user's key_map.)
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace pgblit::test {
namespace {

namespace fs = std::filesystem;

class RollbackSafetyTest : public DatabasePair {
 protected:
  void SetUp() override {
    DatabasePair::SetUp();
    backup_ = fs::temp_directory_path() / ("pgblit-backup-" + db_);
    fs::remove_all(backup_);
    fs::remove_all(backup_.string() + ".moved");
    source_sql(R"(
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric);
INSERT INTO orders (customer, total) SELECT 'c' || g, g * 2.5 FROM generate_series(1, 20000) g;
ANALYZE)");
    target_sql("CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric);"
               "CREATE INDEX orders_customer ON orders (customer)");
  }
  void TearDown() override {
    fs::remove_all(backup_);
    fs::remove_all(backup_.string() + ".moved");
  }

  // Rows, sequence and indexes, as a DBA would compare them.
  std::string state() {
    return contents(*target_, "orders") + " | " + target_value("SELECT last_value || '/' || is_called FROM orders_id_seq") +
           " | " + indexes();
  }
  std::string indexes() {
    return target_value("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'orders'");
  }
  std::string status(int run) { return target_value("SELECT status FROM pgblit.runs WHERE id = " + std::to_string(run)); }
  RunResult rollback(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"rollback"};
    all.insert(all.end(), args.begin(), args.end());
    all.insert(all.end(), {"--target", target_url(), "--yes"});
    return run_pgblit(all);
  }
  // The target holds `rows` rows of its own (what a rollback must put back).
  void prefill(int rows = 3000) {
    target_sql(fmt_rows(rows) + "; SELECT setval('orders_id_seq', " + std::to_string(100000 + rows) + "); ANALYZE orders");
  }
  // A copy appends the source's 20000 rows after a backup of the target's.
  void append_with_backup(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--on-existing", "append", "--backup-target", backup_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto run = copy(args);
    ASSERT_EQ(run.exit_code, 0) << run.output;
  }
  static std::string fmt_rows(int rows) {
    return "INSERT INTO orders (id, customer, total) SELECT g, 'old' || g || repeat('x', 60), g FROM "
           "generate_series(100001, " + std::to_string(100000 + rows) + ") g";
  }
  fs::path first_chunk_file() {
    for (const auto& e : fs::directory_iterator(backup_ / "data")) return e.path();
    return {};
  }
  fs::path backup_;
};

TEST_F(RollbackSafetyTest, a_missing_or_damaged_backup_is_found_before_anything_is_emptied) {
  prefill();
  auto before = state();
  append_with_backup();
  auto after_run = state();
  ASSERT_NE(after_run, before);

  fs::rename(backup_, backup_.string() + ".moved");
  auto missing = rollback({"1"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(mentions(missing, "is missing")) << missing.output;
  EXPECT_TRUE(mentions(missing, "nothing changed")) << missing.output;
  EXPECT_EQ(state(), after_run);
  EXPECT_EQ(status(1), "done");
  fs::rename(backup_.string() + ".moved", backup_);

  // One byte flipped in the middle of a chunk file: found by reading it through.
  auto file = first_chunk_file();
  fs::copy_file(file, file.string() + ".good");
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(file) / 2));
    char byte = 0;
    f.read(&byte, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    byte = static_cast<char>(byte ^ 0x5a);
    f.write(&byte, 1);
  }
  auto damaged = rollback({"1"});
  EXPECT_EQ(damaged.exit_code, 2) << damaged.output;
  EXPECT_TRUE(mentions(damaged, file.filename().string())) << damaged.output;
  EXPECT_TRUE(mentions(damaged, "nothing changed")) << damaged.output;
  EXPECT_EQ(state(), after_run);

  fs::remove(file);
  auto gone = rollback({"1"});
  EXPECT_EQ(gone.exit_code, 2) << gone.output;
  EXPECT_TRUE(mentions(gone, "is missing")) << gone.output;
  EXPECT_EQ(state(), after_run);
  EXPECT_EQ(status(1), "done");

  fs::rename(file.string() + ".good", file);
  auto undone = rollback({"1"});
  ASSERT_EQ(undone.exit_code, 0) << undone.output;
  EXPECT_EQ(state(), before);
}

TEST_F(RollbackSafetyTest, a_role_that_could_empty_but_not_reload_is_refused_before_anything_is_emptied) {
  prefill();
  append_with_backup();
  auto after_run = state();
  // TRUNCATE but not INSERT, and not the owner (the reload drops and rebuilds the indexes).
  target_sql("DO $$ BEGIN CREATE ROLE pgblit_truncater LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
             "GRANT USAGE ON SCHEMA pgblit TO pgblit_truncater; GRANT ALL ON ALL TABLES IN SCHEMA pgblit TO "
             "pgblit_truncater; GRANT SELECT, TRUNCATE ON orders TO pgblit_truncater; GRANT ALL ON orders_id_seq TO "
             "pgblit_truncater");
  std::string as_role = "postgresql://pgblit_truncater@127.0.0.1:" + std::to_string(target_port()) + "/" + db_;
  auto refused = run_pgblit({"rollback", "1", "--target", as_role, "--yes"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "INSERT on \"public\".\"orders\"")) << refused.output;
  EXPECT_TRUE(mentions(refused, "ownership of \"public\".\"orders\"")) << refused.output;
  EXPECT_TRUE(mentions(refused, "nothing changed")) << refused.output;
  EXPECT_EQ(state(), after_run);
  EXPECT_EQ(status(1), "done");
}

TEST_F(RollbackSafetyTest, later_runs_and_the_applications_rows_are_not_rolled_back_without_force) {
  // An application table beside the run's, with its own sequence: not the run's to set back.
  target_sql("CREATE TABLE app_log (id bigserial PRIMARY KEY, msg text)");
  auto before = state();
  auto first = copy({"-t", "public.orders"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto after_first = state();
  // Run 2 appends 5000 new rows (with a backup of run 1's); then the application inserts one.
  source_sql("TRUNCATE orders; INSERT INTO orders (id, customer, total) SELECT g, 'n' || g, g FROM "
             "generate_series(20001, 25000) g");
  auto second = copy({"-t", "public.orders", "--on-existing", "append", "--backup-target", backup_.string()});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  target_sql("INSERT INTO orders (id, customer, total) VALUES (90001, 'app', 1); INSERT INTO app_log (msg) SELECT 'm' FROM "
             "generate_series(1, 5)");
  auto with_later_work = state();
  ASSERT_EQ(target_value("SELECT count(*) FROM orders"), "25001");

  auto refused = rollback({"1"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "\"public\".\"orders\" (20000 rows then, 25001 now; written since by run 2 (done))"))
      << refused.output;
  EXPECT_TRUE(mentions(refused, "--force")) << refused.output;
  EXPECT_EQ(state(), with_later_work);
  EXPECT_EQ(status(1), "done");

  // Run 2's own end was 25000 rows: the application's row is a change no run made.
  auto refused_2 = rollback({"2"});
  EXPECT_EQ(refused_2.exit_code, 2) << refused_2.output;
  EXPECT_TRUE(mentions(refused_2, "25000 rows then, 25001 now; not by a pgblit run")) << refused_2.output;
  EXPECT_EQ(state(), with_later_work);

  // Same row count, one row changed: detected too.
  target_sql("DELETE FROM orders WHERE customer = 'app'; UPDATE orders SET total = total + 1 WHERE id = 20001");
  auto changed = rollback({"2"});
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_TRUE(mentions(changed, "25000 rows then and now, but rows changed")) << changed.output;
  // Equal values written differently are a change too (20001.0 and 20001.00000 are equal numerics).
  target_sql("UPDATE orders SET total = (total - 1)::numeric(30, 5) WHERE id = 20001");
  auto rescaled = rollback({"2"});
  EXPECT_EQ(rescaled.exit_code, 2) << rescaled.output;
  EXPECT_TRUE(mentions(rescaled, "25000 rows then and now, but rows changed")) << rescaled.output;

  auto forced = rollback({"2", "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(status(2), "rolled back");
  EXPECT_EQ(contents(*target_, "orders"), after_first.substr(0, after_first.find(" | ")));

  // Run 1's tables are as it left them again (rows moved by VACUUM FULL are the same rows).
  target_sql("VACUUM FULL orders");
  auto undone = rollback({"1"});
  ASSERT_EQ(undone.exit_code, 0) << undone.output;
  EXPECT_EQ(state(), before);
  EXPECT_EQ(target_value("SELECT last_value FROM app_log_id_seq"), "5");
}

TEST_F(RollbackSafetyTest, a_run_that_recorded_no_end_is_refused_when_a_later_run_wrote_to_its_tables) {
  auto before = state();
  ASSERT_EQ(copy({"-t", "public.orders"}).exit_code, 0);
  // As a run killed before its rows were all in, or made by an older pgblit.
  target_sql("UPDATE pgblit.runs SET options = options - 'end_state' WHERE id = 1");
  source_sql("TRUNCATE orders; INSERT INTO orders (id, customer, total) SELECT g, 'n' || g, g FROM "
             "generate_series(20001, 21000) g");
  ASSERT_EQ(copy({"-t", "public.orders", "--on-existing", "append", "--backup-target", backup_.string()}).exit_code, 0);
  auto after_second = state();
  auto refused = rollback({"1"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "\"public\".\"orders\" (written since by run 2 (done))")) << refused.output;
  EXPECT_TRUE(mentions(refused, "only later pgblit runs can be seen")) << refused.output;
  EXPECT_EQ(state(), after_second);
  // Newest first: once run 2 is rolled back (its reload is no later work), run 1 goes too.
  auto second = rollback({"2"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  auto first = rollback({"1"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(state(), before);
}

TEST_F(RollbackSafetyTest, a_reload_that_fails_leaves_no_index_dropped_and_a_rerun_finishes_it) {
  prefill();
  auto before = state();
  append_with_backup();
  // The target's owner adds a check the backed-up rows fail: found only when they are loaded.
  target_sql("ALTER TABLE orders ADD CONSTRAINT below CHECK (id < 101000) NOT VALID");
  auto failed = rollback({"1", "-j", "1"});
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_TRUE(mentions(failed, "indexes and constraints still dropped: none")) << failed.output;
  EXPECT_TRUE(mentions(failed, "pgblit rollback 1 again")) << failed.output;
  EXPECT_EQ(status(1), "rolling back");
  EXPECT_EQ(indexes(), "orders_customer,orders_pkey");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'p'"), "1");

  target_sql("ALTER TABLE orders DROP CONSTRAINT below");
  auto rerun = rollback({"1"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(state(), before);
  EXPECT_EQ(status(1), "rolled back");
}

TEST_F(RollbackSafetyTest, a_rollback_killed_while_reloading_is_finished_by_running_it_again) {
  prefill(20000);
  auto before = state();
  append_with_backup({"--chunk-size", "256kB"});
  auto files = std::distance(fs::directory_iterator(backup_ / "data"), fs::directory_iterator{});
  ASSERT_GE(files, 4) << "the backup must have several chunks to be killed between them";
  // Each reloaded chunk takes a while (a statement trigger the DBA added; rows unchanged).
  target_sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; "
             "END $$; CREATE TRIGGER slow BEFORE INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION slow()");
  PgblitProcess running({"rollback", "1", "--target", target_url(), "--yes", "-j", "1"});
  ASSERT_TRUE(eventually([&] { return target_value("SELECT count(*) FROM "
                                                     "pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore' AND c.status = 'done'") != "0"; }))
      << running.output_so_far();
  running.kill_now();
  auto killed = running.wait();
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.output;
  EXPECT_EQ(status(1), "rolling back");
  EXPECT_NE(contents(*target_, "orders"), before.substr(0, before.find(" | ")));

  auto rerun = rollback({"1"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(state(), before);
  EXPECT_EQ(status(1), "rolled back");
}

// pgblit owns only what it made: the catalog refuses a schema holding a table of its tables'
// names, and clean keeps such a table even in a catalog an older pgblit made (no markers).
TEST_F(RollbackSafetyTest, a_users_table_with_a_catalog_tables_name_is_never_pgblits) {
  both_sql("CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, v text)");
  source_sql("INSERT INTO app.items SELECT g, 'v' || g FROM generate_series(1, 1000) g");
  target_sql("CREATE TABLE public.key_map (id int PRIMARY KEY, name text); INSERT INTO key_map VALUES (1, 'mine')");
  auto refused = copy({"-n", "app", "--catalog-schema", "public"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(mentions(refused, "\"public\".\"key_map\"")) << refused.output;
  EXPECT_TRUE(mentions(refused, "--catalog-schema")) << refused.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM app.items"), "0");
  EXPECT_EQ(target_value("SELECT to_regclass('public.runs') IS NULL"), "t");
  // A restore makes the same catalog: refused the same way, before anything is written.
  auto made = run_pgblit({"backup", "--source", source_url(), "--spool", backup_.string(), "-n", "app"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto restore = run_pgblit({"restore", "--spool", backup_.string(), "--target", target_url(), "--catalog-schema",
                             "public"});
  EXPECT_EQ(restore.exit_code, 2) << restore.output;
  EXPECT_TRUE(mentions(restore, "\"public\".\"key_map\"")) << restore.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM app.items"), "0");
  EXPECT_EQ(target_value("SELECT to_regclass('public.restored_chunks') IS NULL"), "t");

  // An older pgblit's catalog in public, made beside the user's key_map: no markers.
  target_sql("ALTER TABLE key_map RENAME TO key_map_user");
  ASSERT_EQ(copy({"-n", "app", "--catalog-schema", "public"}).exit_code, 0);
  target_sql(R"(DO $$ DECLARE t text; BEGIN
  FOR t IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND obj_description(c.oid, 'pg_class') LIKE 'pgblit%' LOOP
    EXECUTE format('COMMENT ON TABLE public.%I IS NULL', t);
  END LOOP; END $$;
DROP TABLE public.key_map; ALTER TABLE key_map_user RENAME TO key_map)");
  auto cleaned = run_pgblit({"clean", "--all", "--catalog-schema", "public", "--target", target_url(), "--yes"});
  EXPECT_EQ(cleaned.exit_code, 0) << cleaned.output;
  EXPECT_TRUE(mentions(cleaned, "kept \"public\".\"key_map\"")) << cleaned.output;
  EXPECT_EQ(target_value("SELECT name FROM public.key_map WHERE id = 1"), "mine");
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname IN "
                         "('catalog_info', 'runs', 'chunks', 'objects', 'lanes', 'restored_chunks')"),
            "0");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.items"), "1000");

  // A new catalog marks its tables: clean drops them, and only them.
  target_sql("DROP TABLE key_map; TRUNCATE app.items");
  ASSERT_EQ(copy({"-n", "app", "--catalog-schema", "public"}).exit_code, 0);
  // catalog_info, runs, chunks, objects, lanes, key_map (restores use chunks too).
  EXPECT_EQ(target_value("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND "
                         "obj_description(oid, 'pg_class') LIKE 'pgblit run catalog%'"),
            "6");
  auto again = run_pgblit({"clean", "--all", "--catalog-schema", "public", "--target", target_url(), "--yes"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(target_value("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                         "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"),
            "orders");
  EXPECT_EQ(target_value("SELECT count(*) FROM app.items"), "1000");
}

}  // namespace
}  // namespace pgblit::test
