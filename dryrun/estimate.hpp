// The dry run's estimate: how long the copy will take on this very pair of servers, and the
// memory and disk it needs.
//
// Nothing is guessed from constants. For a few seconds the dry run copies real chunks of the
// largest tables, `jobs` lanes at once as the copy would, from the source (in the run's
// snapshot) into probe tables created inside target transactions that are rolled back, so the
// target ends exactly as it was. On those probes it then times what follows a load: building
// each deferred index, reading the rows back (verification), ANALYZE. Each rate is per byte of
// table on disk, measured under the same concurrency as the run, and projected over every
// table's size; index builds grow as n log n, so their rate is scaled by log(rows) from sample
// to table. Phases are summed: on a machine whose cores the copy already saturates, the run's
// overlap of rebuilds with loading buys little. The range is the machine's drift (−20%, +25%).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "start/run_setup.hpp"
#include "target/deferred.hpp"

namespace pgblit::dryrun {

struct EstimateOptions {
  std::string source;  // connection strings: the probes run on sessions of their own
  std::string target;
  int jobs = default_jobs();
  int index_jobs = default_jobs();
  bool verify = true;
  bool analyze = true;
  bool keep_indexes = false;  // --indexes keep: loading pays for the indexes (priced) and row-by-row FK checks (not)
  double budget_seconds = 6;  // for the sample loads; 0: no measurement
};

struct Estimate {
  bool measured = false;
  std::string not_measured;  // why, when not
  double seconds = 0, low = 0, high = 0;
  double load_seconds = 0, verify_seconds = 0, index_seconds = 0, foreign_key_seconds = 0, analyze_seconds = 0;
  std::string basis;            // what was measured, in a sentence
  int64_t pgblit_memory = 0;    // bytes: the lanes' blocks and the process
  int64_t server_memory = 0;    // bytes on the target: maintenance_work_mem × index jobs
  int64_t target_disk = 0;      // bytes the target grows by: data and indexes (the source's sizes)
  std::string disk_note;
};

Estimate estimate(start::RunSetup& run, const target::Deferral& deferral, const EstimateOptions& options);
nlohmann::json to_json(const Estimate& estimate);
// "about 4 min 10 s (3 min 20 s to 5 min 12 s): loading ..., basis: ..."
std::vector<std::string> describe(const Estimate& estimate);

}  // namespace pgblit::dryrun
