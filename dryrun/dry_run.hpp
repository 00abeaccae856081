// The dry run (`pgblit plan`, `pgblit copy --dry-run`): before the window, what a copy would
// meet, counted on the real rows, and a go/no-go.
//
// Findings have a severity. Errors fail a whole table or the run (a table or column missing,
// an incompatible type, a missing privilege, a read-only target, too few connection slots):
// any error is no-go. Warnings are rows the target would refuse (NULLs under its NOT NULL,
// values longer than its varchar(n), orphans under its foreign keys among the copied tables,
// duplicates under its unique keys): with --max-rejects they would be set aside rather than
// stop the night, so they are no-go only when their rows exceed --max-warning-ratio of the
// rows to copy. Info says what the copy will change. Every data check is one set-based query
// on the source, inside the run's snapshot, -j at a time, each timed; a check that cannot run
// becomes an error finding naming it while the others go on. The dry run writes nothing.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "dryrun/estimate.hpp"
#include "start/copy_settings.hpp"
#include "start/run_setup.hpp"
#include "target/deferred.hpp"

namespace pgblit::dryrun {

enum class Severity { Error, Warning, Info };
const char* to_string(Severity severity);

struct Finding {
  Severity severity = Severity::Info;
  std::string check{};    // "not null", "length", "foreign key", "unique", "privilege", ...
  std::string object{};   // in SQL form
  std::string message{};
  int64_t rows = -1;    // rows affected, where that applies
  std::string example{};  // one example key or value
  std::string fix{};
  double seconds = 0;   // how long the check took
  bool estimated = false;  // rows counted on a sample (--checks fast) and scaled up
};

// What only the dry run takes: the go/no-go threshold and how the rows are counted. The copy it
// prices (connections, lanes, on-existing, triggers, indexes, verify, analyze) is a
// start::CopySettings.
struct DryRunOptions {
  double max_warning_ratio = 0.01;  // warning rows allowed, as a share of the rows to copy
  bool fast_checks = false;         // --checks fast: counted on a sample
  bool exact_counts = false;        // count every table's rows instead of the catalog's estimates
  double check_timeout = 0;         // seconds per check; 0: none
  double estimate_seconds = 5;      // of sample loads for the estimate; 0: none
};

struct DryRun {
  std::vector<Finding> findings;
  int64_t rows = 0;          // to copy (catalog estimates, or counted with --exact-counts)
  bool exact_rows = false;
  int64_t warning_rows = 0;  // rows with warnings
  bool go = true;
  std::string verdict;       // why
  Estimate estimate;
};

// Every check on a planned run (`run` from start::open_run) whose deferral is decided, for a
// copy with `copy` and `mapping` (its value maps and filters are checked too; null: none);
// reads only (with --exact-counts, the plan's row estimates become the counts). The checks and
// probes run on sessions of their own, connected by `copy`'s connection strings.
DryRun dry_run(start::RunSetup& run, const target::Deferral& deferral, const start::CopySettings& copy,
               const DryRunOptions& options, const mapping::Mapping* mapping);
// A plan that could not be made (a missing table, an incompatible column) is one error finding.
DryRun failed_plan(const Error& error);
nlohmann::json to_json(const DryRun& dry_run);

}  // namespace pgblit::dryrun
