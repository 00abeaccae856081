// The dry run's data checks: what the target demands of every copied table (NOT NULL, length
// limits, CHECK constraints, enum labels, integer and numeric ranges, unique keys, foreign
// keys, its encoding), each turned into one set-based count on the source inside the run's
// snapshot, and run `jobs` at a time on sessions of their own.
//
// With `fast`, each table is read through TABLESAMPLE SYSTEM (about kFastSampleRows rows) and
// the counts are scaled up and labelled as estimates; duplicates under a unique key are still
// counted on every row (a sample hides them). Each check can be bounded by a statement timeout;
// a check that cannot run (a privilege, the timeout) becomes an error finding naming it while
// the others go on. With a mapping: source values a value map does not cover (a warning where
// `else: error` fails their rows, info otherwise), and filters that select no row (info; an
// error when no filtered table has a row: a scope value or a where that is surely wrong).
// A target CHECK runs on the source (with the source role's rights) only when every function it
// calls is a built-in immutable one; any other, or one that does not evaluate there, becomes an
// info finding saying so: the copy will still test it, row by row, on the target. Every
// statement is one statement (the extended protocol): mapping text cannot add another.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "dryrun/dry_run.hpp"
#include "start/run_setup.hpp"
#include "mapping/mapping.hpp"

namespace pgblit::dryrun {

inline constexpr double kFastSampleRows = 100000;

struct CheckOptions {
  std::string source;  // connection strings for the checks' own sessions
  std::string target;
  int jobs = default_jobs();
  bool fast = false;
  bool append = false;           // --on-existing append: keys already on the target are counted
  bool exact_counts = false;     // also count every table's rows (into plan.tables[].estimated_rows)
  double timeout_seconds = 0;    // per check; 0: none
  const mapping::Mapping* mapping = nullptr;  // its value maps' coverage and its filters are counted
};

// Tables with fewer rows than this by their statistics are counted exactly: it is cheap.
inline constexpr int64_t kCountedBelowRows = 1000000;

// Whether the dry run counts a table's rows instead of trusting its statistics: with
// --exact-counts; a table never analyzed (reltuples -1: a fresh restore or load), or small;
// and a filtered or scoped table, whose statistics count rows the run does not move.
bool counted_exactly(const plan::TableCopy& table, bool exact_counts);

// Runs every data check on a planned run; with exact_counts, the plan's row estimates become
// exact counts. Reads only.
struct DataChecks {
  std::vector<Finding> findings;
  // Rows more than one warning counts (a NULL and a too-long value in one row): the verdict
  // weighs rows, not findings, so these are taken off the findings' sum.
  int64_t rows_counted_twice = 0;
};

DataChecks run_data_checks(start::RunSetup& run, const CheckOptions& options);

}  // namespace pgblit::dryrun
