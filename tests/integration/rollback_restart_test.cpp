// A target server that crashes and comes back while `pgblit rollback` reloads a backup: the
// rollback retries (--retry-timeout) and completes, the target exactly as before the run. This
// test restarts the shared target cluster, so ctest runs it alone (RUN_SERIAL).
#include <filesystem>

#include "harness.hpp"

namespace pgblit::test {
namespace {

using RollbackRestartTest = DatabasePair;

TEST_F(RollbackRestartTest, a_target_restart_while_reloading_is_ridden_out) {
  auto backup = std::filesystem::temp_directory_path() / ("pgblit-backup-" + db_);
  std::filesystem::remove_all(backup);
  both_sql("CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, total numeric)");
  source_sql("INSERT INTO orders (customer, total) SELECT 'c' || g, g FROM generate_series(1, 20000) g; ANALYZE");
  target_sql("INSERT INTO orders (id, customer, total) SELECT g, 'old' || g || repeat('x', 60), g "
             "FROM generate_series(100001, 120000) g; SELECT setval('orders_id_seq', 120000); ANALYZE orders");
  auto before = contents(*target_, "orders") + " " + target_value("SELECT last_value FROM orders_id_seq");
  auto run = copy({"--on-existing", "append", "--backup-target", backup.string(), "--chunk-size", "256kB"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Each reloaded chunk takes a while (a statement trigger; rows unchanged), so the restart
  // falls between chunks.
  target_sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; "
             "END $$; CREATE TRIGGER slow BEFORE INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION slow()");
  PgblitProcess rollback({"rollback", "1", "--target", target_url(), "--yes", "-j", "1", "--retry-timeout", "120"});
  ASSERT_TRUE(eventually([&] { return target_value("SELECT count(*) FROM "
                                                     "pgblit.chunks c JOIN pgblit.runs r ON r.id = c.run_id WHERE r.options ->> 'kind' = 'restore' AND c.status = 'done'") != "0"; }))
      << rollback.output_so_far();
  target_.reset();
  pg_ctl("target", "-m immediate stop");  // pg_ctl waits for each: the rollback finds the server gone
  pg_ctl("target", "start");
  auto result = rollback.wait();
  target_ = std::make_unique<pg::Connection>(pg::Connection::open(target_url(), "target"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(mentions(result, "retrying")) << result.output;
  EXPECT_EQ(contents(*target_, "orders") + " " + target_value("SELECT last_value FROM orders_id_seq"), before);
  EXPECT_EQ(target_value("SELECT string_agg(indexname, ',') FROM pg_indexes WHERE tablename = 'orders'"), "orders_pkey");
  EXPECT_EQ(target_value("SELECT status FROM pgblit.runs WHERE id = 1"), "rolled back");
  std::filesystem::remove_all(backup);
}

}  // namespace
}  // namespace pgblit::test
