// What belongs to the target and not to a run: indexes and constraints a killed or failed run
// dropped (a later command refuses to write over them, naming the run and the command that
// finishes it; a failed run rebuilds what it can and names the rest), the tables one command
// writes at a time whatever its catalog schema, rows a later run wrote (never resumed over),
// and sequences (only those of written columns move, and only forward).
//
// Moments are facts, not sleeps: a gate on the target (an advisory lock the test holds, which
// a trigger on the loaded table waits for) stops the load where the test wants it.
#include <memory>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class TargetClaimsTest : public DatabasePair {
 protected:
  // A run of a keyless table `t` (500 rows) held at the gate while it loads.
  std::unique_ptr<PgblitProcess> a_run_held_at_the_gate() {
    both_sql("CREATE TABLE t (id int, v text)");
    source_sql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g");
    gate_inserts_into("t");
    close_gate();
    auto run = std::make_unique<PgblitProcess>(copy_args({"--log-level", "warn"}));
    EXPECT_TRUE(a_lane_waits_at_the_gate()) << run->output_so_far();
    return run;
  }
  std::string indexes_of(const std::string& table) {
    return target_value("SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text) "
                        "FROM pg_index WHERE indrelid = '" +
                        table + "'::regclass");
  }
  std::string constraints_of(const std::string& table) {
    return target_value("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = '" + table +
                        "'::regclass AND contype IN ('p', 'u', 'f')");
  }
};

const char* kSchema = R"(
CREATE TABLE parents (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents, note text);
CREATE INDEX children_note_idx ON children (note);)";

TEST_F(TargetClaimsTest, a_fresh_copy_after_a_killed_one_refuses_while_its_keys_are_dropped_and_resume_restores_them) {
  both_sql(kSchema);
  source_sql("INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 300) g;"
             "INSERT INTO children SELECT g, 1 + g % 300, 'n' || g FROM generate_series(1, 2000) g");
  std::string parents_before = indexes_of("parents"), children_before = indexes_of("children");
  std::string constraints_before = constraints_of("parents") + "|" + constraints_of("children");
  gate_inserts_into("children");
  close_gate();
  PgblitProcess first(copy_args({"--log-level", "warn"}));
  ASSERT_TRUE(a_lane_waits_at_the_gate()) << first.output_so_far();
  first.kill_now();
  open_gate();
  ASSERT_EQ(target_value("SELECT count(*) FROM pgblit.objects WHERE status = 'dropped' "
                         "AND table_name = '\"public\".\"children\"'"), "3")
      << "the killed run dropped the children's primary key, foreign key and index";

  // A fresh run, even one that empties the tables first, would leave them without their keys.
  for (std::vector<std::string> args : {std::vector<std::string>{}, {"--on-existing", "truncate", "--yes"}}) {
    auto second = copy(args);
    EXPECT_EQ(second.exit_code, 2) << second.output;
    EXPECT_TRUE(mentions(second, "dropped by run 1 (catalog pgblit), which has not rebuilt them")) << second.output;
    EXPECT_TRUE(mentions(second, "pgblit copy --resume 1")) << second.output;
    EXPECT_TRUE(mentions(second, "pgblit clean 1 --restore-objects")) << second.output;
  }
  EXPECT_EQ(target_value("SELECT count(*) FROM pgblit.runs"), "1") << "the refused runs recorded nothing";
  auto status = run_pgblit({"status", "--target", target_url()});
  EXPECT_TRUE(mentions(status, "dropped on the target and not rebuilt")) << status.output;

  auto resumed = copy({"--resume", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(indexes_of("parents"), parents_before);
  EXPECT_EQ(indexes_of("children"), children_before);
  EXPECT_EQ(constraints_of("parents") + "|" + constraints_of("children"), constraints_before);
  expect_same_contents("parents");
  expect_same_contents("children");
}

TEST_F(TargetClaimsTest, a_failed_copy_rebuilds_the_loaded_tables_keys_and_names_what_stays_dropped) {
  both_sql(kSchema);
  source_sql("INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 3000) g;"
             "INSERT INTO children SELECT g, g, 'n' || g FROM generate_series(1, 10) g");
  target_sql("ALTER TABLE children ADD CONSTRAINT note_not_n7 CHECK (note <> 'n7')");
  std::string parents_before = indexes_of("parents");
  // One lane, largest table first: the parents are loaded whole before the children fail.
  auto failed = copy({"-j", "1", "--index-jobs", "1"});
  ASSERT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_EQ(indexes_of("parents"), parents_before) << "the loaded table's keys came back: " << failed.output;
  EXPECT_EQ(constraints_of("parents"), "parents_code_key,parents_pkey");
  EXPECT_EQ(indexes_of("children"), "") << "the children's stay dropped until the run is finished";
  EXPECT_TRUE(mentions(failed, "indexes and constraints of \"public\".\"children\" stay dropped until then"))
      << failed.output;
  EXPECT_TRUE(mentions(failed, "to get them back: finish run 1 (pgblit copy --resume 1)")) << failed.output;

  target_sql("ALTER TABLE children DROP CONSTRAINT note_not_n7");
  auto resumed = copy({"--resume", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(constraints_of("children"), "children_parent_id_fkey,children_pkey");
  expect_same_contents("children");
}

TEST_F(TargetClaimsTest, two_runs_with_different_catalog_schemas_never_load_the_same_tables) {
  auto first = a_run_held_at_the_gate();
  auto second = copy({"--catalog-schema", "other_catalog"});
  open_gate();
  EXPECT_EQ(second.exit_code, 2) << second.output;
  EXPECT_TRUE(mentions(second, "another pgblit command is writing to \"public\".\"t\"")) << second.output;
  auto done = first->wait();
  ASSERT_EQ(done.exit_code, 0) << done.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "500");
  expect_same_contents("t");
}

TEST_F(TargetClaimsTest, a_run_is_never_resumed_over_rows_a_later_run_wrote) {
  auto first = a_run_held_at_the_gate();
  first->kill_now();
  open_gate();
  auto second = copy({"--on-existing", "truncate", "--yes"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  auto resumed = copy({"--resume", "1"});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.output;
  EXPECT_TRUE(mentions(resumed, "run 2 (catalog pgblit) wrote to \"public\".\"t\" after run 1 began")) << resumed.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM t"), "500") << "no chunk of run 1 loaded on top of run 2's rows";
}

TEST_F(TargetClaimsTest, sequences_move_only_forward_and_only_for_the_columns_written) {
  both_sql("CREATE SCHEMA app; CREATE TABLE app.orders (id serial PRIMARY KEY, v int);"
           "CREATE TABLE app.events (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v int);"
           "CREATE SEQUENCE app.free_seq;"
           "CREATE TABLE app.tickets (id int PRIMARY KEY DEFAULT nextval('app.free_seq'), v int)");
  source_sql("INSERT INTO app.orders (v) SELECT g FROM generate_series(1, 400) g;"
             "INSERT INTO app.events (v) SELECT g FROM generate_series(1, 300) g;"
             // Keys given explicitly: the source's sequence is behind them.
             "INSERT INTO app.tickets VALUES (7000, 1), (7001, 2)");
  // The target's application already went far ahead on orders.
  target_sql("SELECT setval('app.orders_id_seq', 900003)");

  // Only the events are copied: the orders' sequence, a table not in the run, stays put.
  auto events = copy({"-t", "app.events"});
  ASSERT_EQ(events.exit_code, 0) << events.output;
  EXPECT_EQ(target_value("SELECT last_value FROM app.orders_id_seq"), "900003");
  EXPECT_EQ(target_value("SELECT nextval('app.events_id_seq')"), "301");

  // Appended into orders: the sequence never moves back to the source's 400.
  auto orders = copy({"-t", "app.orders", "--on-existing", "append"});
  ASSERT_EQ(orders.exit_code, 0) << orders.output;
  EXPECT_EQ(target_value("SELECT last_value FROM app.orders_id_seq"), "900003");

  // A column taking its default from a free sequence: past the largest key it now holds.
  auto tickets = copy({"-t", "app.tickets"});
  ASSERT_EQ(tickets.exit_code, 0) << tickets.output;
  EXPECT_EQ(target_value("SELECT nextval('app.free_seq')"), "7002");
}

}  // namespace
}  // namespace pgblit::test
