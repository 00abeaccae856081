// One data check of the dry run: a finding and the statement that counts its rows, run on a
// session of its own in the run's snapshot (check_builder.hpp makes them, data_checks.cpp runs
// them `-j` at a time).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dryrun/dry_run.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {

struct Count {
  int64_t rows = 0;
  std::string example;
};

// A check's sessions: the source's in the run's snapshot, the target's opened when first needed.
struct Sessions {
  std::optional<pg::Connection> source, target;
};

struct Check {
  Finding finding;
  std::function<Count(Sessions&)> count;  // none: the finding is all there is to say
  double scale = 1;          // the count was taken on a sample of 1/scale of the rows
  bool on_source_only = false;  // failing on the source means the expression is not portable (info)
  size_t counts_table = SIZE_MAX;  // an exact row count of this plan table, not a finding
  bool finds_a_row = false;  // counts rows a filter selects (at most 1): a finding only when none
  // A row predicate on this table's rows (exact counts only); or, with rows_with_warnings, the
  // count of its rows that any of those predicates holds for (a row with two problems is one).
  const plan::TableCopy* row_table = nullptr;
  bool rows_with_warnings = false;
};

// `SELECT count, example ...` on the source: its one row as a Count.
inline Count count_on_source(Sessions& s, const std::string& sql, const std::string& object) {
  auto r = s.source->exec_one(sql, object);
  return {r.int64(0, 0), r.is_null(0, 1) ? "" : r.text(0, 1)};
}

// "alias"."column", ... for each column.
inline std::string joined(const std::vector<std::string>& columns, const std::string& alias) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(alias + "." + pg::quote_ident(c));
  return fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace pgblit::dryrun
