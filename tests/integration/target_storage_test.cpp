// Verification judges what the target holds: where the target's column stores a value
// otherwise than the source holds it, the source side is read as the target stores it. A
// char(n) pads with spaces (trailing spaces are insignificant): a correct copy into it verifies
// clean, while a changed or cut value is still a difference naming its row. A timestamp(0)
// rounds fractional seconds: a value it changed is named with its column, a mere widening
// (timestamp(0) into timestamp) is not.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "harness.hpp"

namespace pgblit::test {
namespace {

class TargetStorageTest : public DatabasePair {
 protected:
  // verify --json: (exit code, {kind: keys, "columns of KEY": the columns named}, the report).
  std::tuple<int, std::map<std::string, std::set<std::string>>, nlohmann::json> verify() {
    auto run = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--json", "--log-level", "warn"});
    std::map<std::string, std::set<std::string>> found;
    auto report = nlohmann::json::parse(run.output.substr(run.output.find('{')));
    for (const auto& d : report["differences"]) {
      for (const auto& r : d["rows"]) {
        found[r["kind"]].insert(r["key"]);
        for (const auto& c : r.value("columns", nlohmann::json::array())) found["columns of " + r["key"].get<std::string>()].insert(c);
      }
    }
    return {run.exit_code, found, report};
  }
};

TEST_F(TargetStorageTest, a_copy_into_char_n_verifies_clean_and_a_changed_or_cut_value_is_named) {
  // code: varchar into a char of its own length; note: text, some values with trailing spaces
  // beyond n (char(n) cuts them); wide: a char(3) into a char(5); same: char(5) into char(5).
  source_sql("CREATE TABLE codes (id int PRIMARY KEY, code varchar(10), note text, wide char(3), same char(5));"
             "INSERT INTO codes VALUES (1, 'ab', 'x', 'a', 'ab'), (2, 'abcde', 'hello   ', 'abc', 'abcde'),"
             " (3, NULL, 'y          ', 'b  ', NULL), (4, '', '', '', ''), (5, 'é', 'ünï', 'ç', 'ø');"
             "INSERT INTO codes SELECT g, 'c' || g % 100, 'n' || g, 'w', 's' FROM generate_series(6, 300) g");
  target_sql("CREATE TABLE codes (id int PRIMARY KEY, code char(5), note char(8), wide char(5), same char(5))");
  auto copied = copy();
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  EXPECT_EQ(target_value("SELECT code || '|' FROM codes WHERE id = 1"), "ab|");  // bpchar's || trims
  EXPECT_EQ(target_value("SELECT octet_length(code) FROM codes WHERE id = 1"), "5");  // stored padded
  auto [clean, none, report] = verify();
  EXPECT_EQ(clean, 0) << report.dump();
  EXPECT_TRUE(none.empty()) << report.dump();

  // A real difference in the padded column, and a value the target cut to n (as a copy
  // by other means, or a cast, would have): both named by their rows.
  target_sql("UPDATE codes SET code = 'ax' WHERE id = 1");
  source_sql("INSERT INTO codes VALUES (301, 'abcdefg', 'n', 'w', 's')");
  target_sql("INSERT INTO codes VALUES (301, 'abcde', 'n', 'w', 's')");
  auto [differs, found, differences] = verify();
  EXPECT_EQ(differs, 3) << differences.dump();
  EXPECT_EQ(found["changed"], (std::set<std::string>{"1", "301"})) << differences.dump();
  EXPECT_EQ(found["columns of 1"], (std::set<std::string>{"code"})) << differences.dump();
  EXPECT_EQ(found["columns of 301"], (std::set<std::string>{"code"})) << differences.dump();
}

TEST_F(TargetStorageTest, a_copy_into_char_n_through_a_mapping_verifies_clean) {
  source_sql("CREATE TABLE codes (id int PRIMARY KEY, code text);"
             "INSERT INTO codes SELECT g, 'c' || g FROM generate_series(1, 50) g");
  target_sql("CREATE TABLE renamed (id int PRIMARY KEY, label char(6))");
  std::string file = "/tmp/pgblit-mapping-" + db_ + ".yaml";
  std::ofstream(file) << "version: 1\ntables:\n  public.codes:\n    target: public.renamed\n    columns:\n      label: {from: code}\n";
  auto copied = copy({"--mapping", file});
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  auto verified = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--mapping", file});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  target_sql("UPDATE renamed SET label = 'c7x' WHERE id = 7");
  auto differs = run_pgblit({"verify", "--source", source_url(), "--target", target_url(), "--mapping", file});
  EXPECT_EQ(differs.exit_code, 3) << differs.output;
  std::filesystem::remove(file);
}

TEST_F(TargetStorageTest, a_timestamp_the_target_rounds_is_named_and_a_widening_is_not) {
  source_sql("CREATE TABLE events (id int PRIMARY KEY, at timestamp, day timestamp(0), label text);"
             "INSERT INTO events VALUES (1, '2026-01-01 10:00:00', '2026-01-01 10:00:00', 'a'),"
             " (2, '2026-01-01 10:00:01', '2026-01-01 10:00:07', 'b')");
  // at: timestamp into timestamp(0) rounds; day: timestamp(0) into timestamp widens; label:
  // text into varchar(n) changes nothing.
  target_sql("CREATE TABLE events (id int PRIMARY KEY, at timestamp(0), day timestamp, label varchar(4))");
  auto copied = copy();
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  auto clean = run_pgblit({"verify", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(clean.exit_code, 0) << clean.output;

  // A fractional second the target rounds: the target holds another instant.
  source_sql("INSERT INTO events VALUES (3, '2026-01-01 10:00:04.6', '2026-01-01 10:00:04', 'c')");
  target_sql("INSERT INTO events VALUES (3, '2026-01-01 10:00:04.6', '2026-01-01 10:00:04', 'c')");
  auto rounded = run_pgblit({"verify", "--source", source_url(), "--target", target_url()});
  EXPECT_EQ(rounded.exit_code, 3) << rounded.output;
  EXPECT_TRUE(mentions(rounded, "differs: column \"at\" of \"public\".\"events\": 1 values change as the target's "
                                "timestamp(0) without time zone stores them, e.g. 2026-01-01 10:00:04.6 -> "
                                "2026-01-01 10:00:05"))
      << rounded.output;
  // Only "at" differs (the warning that label travels as text names it, not as a difference).
  EXPECT_FALSE(mentions(rounded, "differs: column \"day\"")) << rounded.output;
  EXPECT_FALSE(mentions(rounded, "differs: column \"label\"")) << rounded.output;
  EXPECT_TRUE(mentions(rounded, "1 differ\n")) << rounded.output;
}

}  // namespace
}  // namespace pgblit::test
