// `pgblit copy` as one object: constructing a CopyRun connects, exports the snapshot, plans
// and checks the target, writing nothing; execute() then moves the data, resets sequences
// and analyzes. Every problem the checks can see is reported before the first row moves.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "engine/cancellation.hpp"
#include "engine/run_setup.hpp"
#include "engine/target_prep.hpp"
#include "partitioner/planner.hpp"

namespace pgblit::engine {

struct CopyOptions {
  std::string source;  // libpq connection strings
  std::string target;
  partitioner::Selection selection;
  int jobs = 2;                                 // lanes: chunks copied at once
  OnExisting on_existing = OnExisting::Error;   // what to do with target tables that hold rows
  bool disable_triggers = false;                // load with session_replication_role = replica
  bool analyze = true;                          // ANALYZE the target tables afterwards
  int64_t chunk_bytes = int64_t{128} << 20;     // target chunk size, heap + TOAST bytes
  bool verify = true;                           // --verify full: digest both sides and compare
};

struct CopySummary {
  size_t tables = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  double seconds = 0;
  int sequences = 0;
  size_t chunks_verified = 0;  // compared chunk by chunk
  size_t tables_verified = 0;  // compared as a whole
};

class CopyRun {
 public:
  explicit CopyRun(CopyOptions options);
  ~CopyRun();

  const partitioner::Plan& plan() const { return run_.plan; }
  CopySummary execute(Cancellation& cancellation);

 private:
  CopyOptions options_;
  RunSetup run_;
  std::set<std::string> prefilled_;  // target tables that held rows before the copy (append)
};

}  // namespace pgblit::engine
