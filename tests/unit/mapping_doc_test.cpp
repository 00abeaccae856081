// Every mapping file docs/mapping.md shows parses, and so does every spelling the doc gives
// for a key (else: keep|null|error, the short form of a rename): the doc is the contract users
// write their mappings from.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "mapping/mapping.hpp"

namespace pgblit::mapping {
namespace {

std::vector<std::string> yaml_blocks_of(const std::string& doc_path) {
  std::ifstream in(doc_path);
  std::vector<std::string> blocks;
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind("```yaml", 0) == 0) {
      inside = true;
      block.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

Mapping load_text(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("pgblit-mapping-doc-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << text;
  auto mapping = load_mapping(path.string());
  std::filesystem::remove(path);
  return mapping;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in the doc's example";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(MappingDoc, every_example_and_every_documented_spelling_parses) {
  auto blocks = yaml_blocks_of(std::string(PGBLIT_SOURCE_DIR) + "/docs/mapping.md");
  ASSERT_FALSE(blocks.empty()) << "docs/mapping.md shows a mapping file";
  for (const auto& block : blocks) EXPECT_NO_THROW(load_text(block)) << block;
  const auto& example = blocks.front();
  for (const char* otherwise : {"else: null", "else: \"null\"", "else: error", "else: keep"}) {
    auto text = replaced(example, "else: keep", otherwise);
    Mapping m;
    ASSERT_NO_THROW(m = load_text(text)) << otherwise;
  }
  EXPECT_NO_THROW(load_text(replaced(example, "title: {from: name}", "title: name")));
}

TEST(MappingDoc, else_null_as_yaml_null_is_the_null_rule) {
  auto text = "version: 1\ntables:\n  s.t:\n    columns:\n      kind: {from: kind, map: {a: b}, else: null}\n";
  auto m = load_text(text);
  ASSERT_EQ(m.tables.size(), 1u);
  EXPECT_EQ(m.tables.front().columns.at("kind").otherwise, "null");
}

// Several target tables from one source table: a list of entries, each one like a single entry.
TEST(MappingDoc, a_list_under_a_source_table_is_one_entry_per_target_table) {
  auto m = load_text(R"(version: 1
tables:
  crm.contacts:
    - {new_keys: sequence}
    - target: crm.contact_organizations
      where: "company_id IS NOT NULL"
      columns: {contact_id: {from: id}, organization_id: {from: company_id}, is_primary: {expr: "true"}}
)");
  auto entries = m.entries_of("crm", "contacts");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]->target, "");
  EXPECT_EQ(entries[0]->new_keys, "sequence");
  EXPECT_EQ(entries[1]->target, "crm.contact_organizations");
  EXPECT_EQ(entries[1]->where, "company_id IS NOT NULL");
  EXPECT_EQ(entries[1]->columns.at("organization_id").from, "company_id");
  EXPECT_TRUE(entries[0]->several && entries[1]->several);
  EXPECT_NE(entries[0]->location, entries[1]->location) << "each entry is named by its own line";
}

TEST(MappingDoc, a_list_refuses_two_entries_into_one_table_and_two_sets_of_new_keys) {
  auto refused = [](const std::string& text, const std::string& why) {
    try {
      load_text(text);
      ADD_FAILURE() << "loaded: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused("version: 1\ntables:\n  s.t:\n    - {}\n    - {target: s.t}\n", "load into s.t");
  refused("version: 1\ntables:\n  s.t:\n    - {new_keys: uuid}\n    - {target: s.u, new_keys: uuid}\n",
          "new_keys on two entries");
  refused("version: 1\ntables:\n  s.t: []\n", "list of entries is empty");
  refused("version: 1\ntables:\n  s.t:\n    - skip\n", "mapping of settings");
}

TEST(MappingDoc, a_query_names_its_target_its_select_and_its_key) {
  auto m = load_text(R"(version: 1
tables: {}
queries:
  crm.directory: {query: "SELECT 1 AS id", key: id}
  crm.pairs: {query: "SELECT 1 AS a, 2 AS b", key: [a, b]}
  crm.whole: {query: "SELECT 1 AS a"}
)");
  ASSERT_EQ(m.queries.size(), 3u);
  EXPECT_EQ(m.queries[0].target, "crm.directory");
  EXPECT_EQ(m.queries[0].key, std::vector<std::string>{"id"});
  EXPECT_EQ(m.queries[1].key, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(m.queries[2].key.empty());
  EXPECT_THROW(load_text("version: 1\ntables: {}\nqueries:\n  crm.d: {query: \"SELECT 1; DROP TABLE x\"}\n"), Error);
  EXPECT_THROW(load_text("version: 1\ntables: {}\nqueries:\n  crm.d: {key: id}\n"), Error);
  EXPECT_THROW(m.require_row_selection_only("backup"), Error);
}

}  // namespace
}  // namespace pgblit::mapping
