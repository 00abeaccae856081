// Which tables a run copies, chosen with pg_dump's flags: -n/--schema, -t/--table,
// -T/--exclude-table. Patterns work as in psql: `*` and `?` are wildcards, unquoted names
// fold to lower case, "Quoted" parts are taken literally, `schema.table` qualifies.
//
// The unit copied is a table that holds rows: an ordinary table, or a leaf partition.
// Selecting a partitioned table selects all its leaf partitions; excluding one excludes them.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "plan/catalog.hpp"

namespace pgblit::plan {

struct Selection {
  std::vector<std::string> schemas;   // -n
  std::vector<std::string> tables;    // -t
  std::vector<std::string> excluded;  // -T
};

class NamePattern {
 public:
  // `qualified_allowed`: "a.b" is schema a, table b (for -t/-T); otherwise one name (for -n).
  NamePattern(const std::string& pattern, bool qualified_allowed);
  bool matches(const std::string& schema, const std::string& name) const;
  bool matches_schema(const std::string& schema) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::optional<std::regex> schema_regex_;  // none: any schema
  std::regex name_regex_;
};

// The leaf tables to copy, in catalog order. Throws a usage error naming each pattern that
// matched nothing, and when nothing at all is selected.
std::vector<const Relation*> select_tables(const std::vector<Relation>& all, const Selection& selection);

}  // namespace pgblit::plan
