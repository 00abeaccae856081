// See selection.hpp.
#include "plan/selection.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>

namespace pgblit::plan {
namespace {

std::string regex_literal(char c) {
  return std::string_view("\\^$.|?*+()[]{}").find(c) == std::string_view::npos ? std::string(1, c)
                                                                                  : std::string("\\") + c;
}

// Splits a psql pattern at unquoted dots and turns each part into an anchored regex.
std::vector<std::string> pattern_parts(const std::string& pattern) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '"') {
      if (quoted && i + 1 < pattern.size() && pattern[i + 1] == '"') {
        parts.back() += "\"";
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == '.' && !quoted) {
      parts.emplace_back();
    } else if (quoted) {
      parts.back() += regex_literal(c);
    } else if (c == '*') {
      parts.back() += ".*";
    } else if (c == '?') {
      parts.back() += ".";
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
      parts.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      parts.back() += regex_literal(c);
    }
  }
  return parts;
}

}  // namespace

NamePattern::NamePattern(const std::string& pattern, bool qualified_allowed) : text_(pattern) {
  auto parts = pattern_parts(pattern);
  if (parts.size() > 2 || (!qualified_allowed && parts.size() > 1) ||
      std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
    throw usage_error(fmt::format("cannot read the name pattern '{}'", pattern), pattern,
                      qualified_allowed ? "write table or schema.table; quote names with dots: \"a.b\""
                                        : "write a schema name or pattern, e.g. sales or 'sales_*'");
  }
  if (parts.size() == 2) schema_regex_ = std::regex(parts[0]);
  name_regex_ = std::regex(parts.back());
}

bool NamePattern::matches(const std::string& schema, const std::string& name) const {
  return (!schema_regex_ || std::regex_match(schema, *schema_regex_)) && std::regex_match(name, name_regex_);
}

bool NamePattern::matches_schema(const std::string& schema) const { return std::regex_match(schema, name_regex_); }

std::vector<const Relation*> select_tables(const std::vector<Relation>& all, const Selection& selection) {
  std::vector<NamePattern> schemas, tables, excluded;
  for (const auto& p : selection.schemas) schemas.emplace_back(p, false);
  for (const auto& p : selection.tables) tables.emplace_back(p, true);
  for (const auto& p : selection.excluded) excluded.emplace_back(p, true);

  std::set<Oid> chosen, dropped;
  std::vector<bool> schema_used(schemas.size()), table_used(tables.size());
  for (const auto& rel : all) {
    bool picked = tables.empty() && schemas.empty();
    for (size_t i = 0; i < tables.size(); ++i) {
      if (tables[i].matches(rel.schema, rel.name)) picked = table_used[i] = true;
    }
    if (tables.empty()) {
      for (size_t i = 0; i < schemas.size(); ++i) {
        if (schemas[i].matches_schema(rel.schema)) picked = schema_used[i] = true;
      }
    }
    if (picked) chosen.insert(rel.oid);
    for (const auto& p : excluded) {
      if (p.matches(rel.schema, rel.name)) dropped.insert(rel.oid);
    }
  }
  std::vector<std::string> unmatched;
  for (size_t i = 0; i < tables.size(); ++i) {
    if (!table_used[i]) unmatched.push_back("table '" + tables[i].text() + "'");
  }
  for (size_t i = 0; i < schemas.size() && tables.empty(); ++i) {
    if (!schema_used[i]) unmatched.push_back("schema '" + schemas[i].text() + "'");
  }
  if (!unmatched.empty()) {
    throw usage_error(fmt::format("no table on the source matches {}", fmt::join(unmatched, ", ")), unmatched[0],
                      "check the spelling and case (quote mixed-case names: -t '\"Sales\".\"Orders\"')");
  }

  // A leaf is copied when it or one of its partition ancestors is chosen, and none excluded.
  std::vector<const Relation*> out;
  for (const auto& rel : all) {
    if (rel.kind != 'r') continue;
    auto in = [&](const std::set<Oid>& set) {
      return set.count(rel.oid) ||
             std::any_of(rel.ancestors.begin(), rel.ancestors.end(), [&](Oid a) { return set.count(a) > 0; });
    };
    if (in(chosen) && !in(dropped)) out.push_back(&rel);
  }
  if (out.empty()) {
    throw usage_error("no table to copy: the selection is empty", "", "check -n, -t and -T");
  }
  return out;
}

}  // namespace pgblit::plan
