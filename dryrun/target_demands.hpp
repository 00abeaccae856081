// What the target demands of the rows a run copies into it, read from its catalog: each filled
// column's type and limits, its keys, CHECKs (of tables and of domains), foreign keys, exclusion
// constraints and generated columns. The dry run's checks (check_builder.hpp) turn each into a
// count on the source. Reads only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::dryrun {

// One target column the copy fills, and what the target demands of its values.
struct TargetColumn {
  std::string table{}, name{}, type{};
  // NOT NULL: COPY applies no default to an explicit NULL, so a default or an identity does not
  // help (a generated column's value is the target's expression, which the checks compute).
  bool needs_value = false;
  int max_chars = -1;
  int precision = -1, scale = 0;
  bool is_enum = false;
  std::vector<std::string> labels{};
};

std::vector<TargetColumn> read_target_columns(pg::Connection& target, const std::vector<std::string>& tables);

// The source's column types, by (source table, column).
std::map<std::pair<std::string, std::string>, std::string> read_source_types(pg::Connection& source,
                                                                            const plan::Plan& plan);

// A primary, unique or foreign key, or a CHECK (of the table, or of a column's domain).
struct Key {
  std::string name, table, type;  // type: 'p', 'u', 'f', 'c'
  std::vector<std::string> columns, column_types;
  std::string referenced;          // "schema"."table" of a foreign key's parent
  std::vector<std::string> referenced_columns;
  std::string expression;          // a CHECK constraint's
  bool nulls_not_distinct = false;  // a unique constraint that counts NULLs as equal (PostgreSQL 15+)
  std::string not_portable;        // why a CHECK must not run on the source ("" when it may)
};

std::vector<Key> read_keys(pg::Connection& target, const std::vector<std::string>& tables);

// The CHECKs of the columns' domains (every level of a domain over a domain), as table CHECKs
// on their column (VALUE replaced by the column, cast to the domain's base type).
std::vector<Key> read_domain_checks(pg::Connection& target, const std::vector<std::string>& tables);

// An exclusion constraint: its columns and their operators, as SQL (OPERATOR(schema.op)).
struct Exclusion {
  std::string name, table;
  std::vector<std::string> columns, operators;
  std::string not_countable;  // why its rows are not counted ("" when they are)
};

// Tables larger than this (by their statistics) do not get their exclusion constraints counted.
inline constexpr int64_t kExclusionRows = 100000;

std::vector<Exclusion> read_exclusions(pg::Connection& target, const std::vector<std::string>& tables);

// A target column the target computes (GENERATED ALWAYS AS (expression) STORED).
struct Generated {
  std::string table, name, expression;
  std::vector<std::string> reads;  // the columns its expression reads
};

// The target's generated columns whose expression may run on the source (built-in immutable
// functions and operators only); the others are left to the copy.
std::vector<Generated> read_generated(pg::Connection& target, const std::vector<std::string>& tables);

}  // namespace pgblit::dryrun
