// What the linked-schema property (gate_linked_property_test.cpp) found, each pinned: the dry
// run counts every constraint the target enforces as the copy then meets it, including
// composite foreign keys to a table the run leaves out, parents already on a target appended
// to, keys already there, exclusion constraints and generated columns. Each count is proved by
// a copy that sets the refused rows aside.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class DryRunConstraintsTest : public DatabasePair {
 protected:
  void TearDown() override { std::remove(mapping_.c_str()); }
  nlohmann::json dry_run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"plan", "--source", source_url(), "--target", target_url(), "--json",
                                  "--estimate-seconds", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    last_ = run_pgblit(args);
    auto open = last_.output.find("\n{");
    EXPECT_NE(open, std::string::npos) << last_.output;
    return nlohmann::json::parse(last_.output.substr(open + 1))["dry_run"];
  }
  static std::map<std::string, int64_t> rows_by_check(const nlohmann::json& dry) {
    std::map<std::string, int64_t> rows;
    for (const auto& f : dry["findings"]) {
      if (f["severity"] == "error") ADD_FAILURE() << f.dump();
      if (f["severity"] == "warning") rows[f["check"]] += f["rows"].get<int64_t>();
    }
    return rows;
  }
  RunResult copy_setting_aside(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--max-rejects", "1000", "--rejects-dir", "/tmp/pgblit-constraints-" + db_,
                               "--indexes", "keep"});
    return copy(extra);
  }
  std::string mapping(const std::string& yaml) {
    mapping_ = "/tmp/pgblit-constraints-" + db_ + ".yaml";
    std::ofstream(mapping_) << yaml;
    return mapping_;
  }
  RunResult last_;
  std::string mapping_;
};

TEST_F(DryRunConstraintsTest, a_composite_foreign_key_to_a_table_left_out_is_looked_up_on_the_target) {
  both_sql("CREATE TABLE parent (id int PRIMARY KEY, k int NOT NULL, UNIQUE (id, k));"
           "CREATE TABLE child (id int PRIMARY KEY, p int, pk int)");
  target_sql("ALTER TABLE child ADD FOREIGN KEY (p, pk) REFERENCES parent (id, k);"
             "INSERT INTO parent SELECT g, g % 3 FROM generate_series(1, 10) g");
  // 4 rows whose (p, pk) the target lacks: 2 with no such parent, 2 with the wrong k; one NULL passes.
  source_sql("INSERT INTO child SELECT g, g % 10 + 1, (g % 10 + 1) % 3 FROM generate_series(1, 40) g;"
             "UPDATE child SET p = 50 + id WHERE id IN (3, 4); UPDATE child SET pk = pk + 1 WHERE id IN (5, 6);"
             "UPDATE child SET p = NULL WHERE id = 7");
  auto file = mapping("version: 1\ntables:\n  public.parent: skip\n");
  auto rows = rows_by_check(dry_run({"--mapping", file}));
  EXPECT_EQ(rows["foreign key"], 4) << last_.output;
  auto copied = copy_setting_aside({"--mapping", file});
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM child"), "36");
}

TEST_F(DryRunConstraintsTest, appended_a_parent_already_on_the_target_is_no_orphan_and_an_existing_key_is_one_row) {
  both_sql("CREATE TABLE parent (id int PRIMARY KEY, u int); CREATE TABLE child (id int PRIMARY KEY, p int)");
  target_sql("ALTER TABLE parent ADD UNIQUE (u); ALTER TABLE child ADD FOREIGN KEY (p) REFERENCES parent (id);"
             "INSERT INTO parent VALUES (-1, NULL), (-2, NULL), (5, NULL)");  // 5: a key the copy also brings
  source_sql("INSERT INTO parent SELECT g, g FROM generate_series(1, 20) g;"
             "UPDATE parent SET u = 1 WHERE id = 20;"  // shares u with row 1: refused
             // children of parents copied (1..20), already there (-1, -2) and nowhere (99: 3 rows)
             "INSERT INTO child SELECT g, CASE WHEN g <= 5 THEN -1 - g % 2 WHEN g <= 8 THEN 99 ELSE g % 18 + 1 END"
             " FROM generate_series(1, 30) g");
  auto dry = dry_run({"--on-existing", "append"});
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["foreign key"], 3) << last_.output;
  EXPECT_EQ(rows["existing key"], 1) << last_.output;
  EXPECT_EQ(rows["unique"], 1) << last_.output;
  EXPECT_EQ(dry["warning_rows"], 5);
  auto copied = copy_setting_aside({"--on-existing", "append"});
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM parent"), "21");  // 3 there + 18 of 20
  EXPECT_EQ(target_value("SELECT count(*) FROM child"), "27");
}

TEST_F(DryRunConstraintsTest, an_exclusion_constraint_is_counted_and_a_row_breaking_it_and_a_unique_is_one_row) {
  source_sql("CREATE TABLE booking (id int PRIMARY KEY, room int, during int4range);"
             "INSERT INTO booking SELECT g, g, int4range(10 * g, 10 * g + 5) FROM generate_series(1, 50) g;"
             "UPDATE booking SET during = int4range(12, 18) WHERE id IN (30, 31);"   // overlap row 1's: 2 rows
             "UPDATE booking SET room = 1, during = int4range(20, 25) WHERE id = 32;"  // both at once with row 2: 1 row
             "UPDATE booking SET room = 2 WHERE id = 33");                              // a room twice: 1 row
  target_sql("CREATE TABLE booking (id int PRIMARY KEY, room int UNIQUE, during int4range,"
             " EXCLUDE USING gist (during WITH &&))");
  auto dry = dry_run();
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["exclusion"], 3) << last_.output;
  EXPECT_EQ(rows["unique"], 2) << last_.output;
  EXPECT_EQ(dry["warning_rows"], 4) << "row 32 breaks both: one row";
  auto copied = copy_setting_aside();
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM booking"), "46");
}

TEST_F(DryRunConstraintsTest, a_generated_column_is_checked_as_the_target_computes_it) {
  source_sql("CREATE TABLE item (id int PRIMARY KEY, qty int, note text);"
             "INSERT INTO item SELECT g, CASE WHEN g <= 3 THEN 600 WHEN g = 4 THEN 0 ELSE g END,"
             " CASE WHEN g = 50 THEN 'x' ELSE 'n' END FROM generate_series(1, 100) g");
  target_sql("CREATE TABLE item (id int PRIMARY KEY, qty int, note text,"
             " twice int GENERATED ALWAYS AS (qty * 2) STORED CHECK (twice < 1000),"
             " inverse int NOT NULL GENERATED ALWAYS AS (nullif(qty, 0)) STORED)");
  // A value map failing on other rows (else: error) does not stop these checks.
  auto file = mapping("version: 1\ntables:\n  public.item:\n    columns:\n      note: {from: note, map: {n: m}, else: error}\n");
  auto rows = rows_by_check(dry_run({"--mapping", file}));
  EXPECT_EQ(rows["check"], 3) << last_.output;
  EXPECT_EQ(rows["not null"], 1) << last_.output;
  EXPECT_EQ(rows["value map"], 1) << last_.output;
  auto copied = copy_setting_aside({"--mapping", file});
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM item"), "95");
}

// The linked property's seed 20261208 (dry run 48 orphans, copy 41, in the session that found
// it): new_keys renumbered a parent that a composite foreign key references, and only single
// foreign keys were rewritten, so each child kept its old (p, pk): an orphan on the target, or
// a link to another row that holds that key (here the target's own rows 1..10). The copy
// rejected a row that also broke NOT NULL for that, where the dry run counted it under both.
TEST_F(DryRunConstraintsTest, new_keys_rewrites_a_composite_foreign_key_so_children_keep_their_parents) {
  both_sql("CREATE TABLE parent (id int PRIMARY KEY, k int NOT NULL, name text, UNIQUE (id, k));"
           "CREATE TABLE child (id int PRIMARY KEY, p int, pk int, parent_name text, c int)");
  source_sql("INSERT INTO parent SELECT g, g % 3, 'moved ' || g FROM generate_series(1, 20) g;"
             "INSERT INTO child SELECT g, g % 20 + 1, (g % 20 + 1) % 3, 'moved ' || (g % 20 + 1), g"
             " FROM generate_series(1, 30) g;"
             "UPDATE child SET pk = (pk + 1) % 3 WHERE id IN (3, 4);"  // no such parent: 2 orphans
             "UPDATE child SET c = NULL WHERE id IN (5, 6, 7);"        // 3 rows the target's NOT NULL refuses
             "ALTER TABLE child ADD FOREIGN KEY (p, pk) REFERENCES parent (id, k) NOT VALID");  // new_keys follows it
  target_sql("ALTER TABLE child ALTER c SET NOT NULL;"
             "ALTER TABLE child ADD FOREIGN KEY (p, pk) REFERENCES parent (id, k);"
             "INSERT INTO parent SELECT g, g % 3, 'already there' FROM generate_series(1, 10) g");
  auto file = mapping("version: 1\ntables:\n  public.parent:\n    new_keys: sequence\n");
  auto dry = dry_run({"--mapping", file, "--on-existing", "append"});
  auto rows = rows_by_check(dry);
  EXPECT_EQ(rows["foreign key"], 2) << last_.output;
  EXPECT_EQ(rows["not null"], 3) << last_.output;
  auto copied = copy_setting_aside({"--mapping", file, "--on-existing", "append"});
  EXPECT_EQ(copied.exit_code, 4) << copied.output;
  EXPECT_EQ(target_value("SELECT count(*) FROM child"), "25");
  // Every child loaded points at the row its parent became, none at a row already there.
  EXPECT_EQ(target_value("SELECT count(*) FROM child c JOIN parent p ON (p.id, p.k) = (c.p, c.pk)"
                         " WHERE p.name = c.parent_name"),
            "25");
}

}  // namespace
}  // namespace pgblit::test
