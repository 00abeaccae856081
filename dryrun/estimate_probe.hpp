// The estimate's measurement (estimate.hpp): sample loads of real chunks into probe tables
// inside rolled-back target transactions, `jobs` lanes at once, then the work that follows a
// load timed on each probe (deferred index builds, read-back, ANALYZE, an anti-join).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "dryrun/estimate.hpp"

namespace pgblit::dryrun {

// One table's measurements, summed over the probes that carried its rows.
struct Sample {
  double heap_bytes = 0;  // of the probes, on disk
  double rows = 0;
  double load_seconds = 0, read_seconds = 0, analyze_seconds = 0;
  double index_seconds = 0;     // all of the table's deferred indexes, built on the probes
  double indexed_bytes = 0;     // heap bytes × indexes built
  double join_seconds = 0;      // an anti-join of the probe with itself, as a foreign key's validation
  double joined_bytes = 0;      // heap bytes on both of its sides
  int probes = 0;
  void add(const Sample& s);
};

struct ProbeResult {
  std::map<std::string, Sample> samples;  // by target table
  bool temporary = false;                 // some probe was a temporary table (no WAL)
  int refused = 0;                        // slices the target refused a row of
  std::string not_measured;               // why nothing was measured, if so
};

// Index definitions rebuilt after loading, by target table.
std::map<std::string, std::vector<std::string>> deferred_indexes(const target::Deferral& deferral);

// Loads samples for `options.budget_seconds` and times what follows; never throws (a failure
// is said in not_measured).
ProbeResult run_probe(const start::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options);

}  // namespace pgblit::dryrun
