// `pgblit verify`: compares source and target chunk by chunk without copying, all source
// reads in one snapshot, `jobs` chunks at a time; for chunks that differ, finds the rows.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "engine/cancellation.hpp"
#include "engine/row_diff.hpp"
#include "engine/verification.hpp"
#include "partitioner/selection.hpp"

namespace pgblit::engine {

struct VerifyOptions {
  std::string source;  // libpq connection strings
  std::string target;
  partitioner::Selection selection;
  int jobs = 2;
  int64_t chunk_bytes = kDefaultChunkBytes;
  size_t max_differences = 100;  // rows reported at most, over the whole run
};

struct VerifyReport {
  size_t chunks_compared = 0;
  size_t tables_compared = 0;
  std::vector<DigestMismatch> mismatches;
  std::vector<std::vector<RowDifference>> rows;  // beside mismatches: the rows found to differ
  double seconds = 0;
  bool ok() const { return mismatches.empty(); }
};

VerifyReport run_verify(const VerifyOptions& options, Cancellation& cancellation);
nlohmann::json to_json(const VerifyReport& report);

}  // namespace pgblit::engine
