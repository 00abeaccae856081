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

}  // namespace
}  // namespace pgblit::mapping
