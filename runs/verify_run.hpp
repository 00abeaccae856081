// `pgblit verify`: compares source and target chunk by chunk without copying, all source
// reads in one snapshot, `jobs` chunks at a time; for chunks that differ, finds the rows.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "pg/cancellation.hpp"
#include "verify/ledger.hpp"
#include "mapping/mapping.hpp"
#include "plan/selection.hpp"

namespace pgblit::runs {

struct VerifyOptions {
  std::string source;  // libpq connection strings
  std::string target;
  plan::Selection selection;
  int jobs = default_jobs();
  int64_t chunk_bytes = kDefaultChunkBytes;
  size_t max_differences = 100;  // rows reported at most, over the whole run
  const mapping::Mapping* mapping = nullptr;  // compare the target to the mapped source
  // Compare what this copy run copied, by its own plan (its mapping, the new keys it chose,
  // the tables that held rows before it). With a mapping and no run, the newest run made with
  // that mapping file is taken, if the target's catalog has one.
  std::optional<int64_t> run_id;
  std::string catalog_schema = kDefaultCatalogSchema;
};

// The report names each differing chunk or table and, where the table has a key, its rows.
verify::Report run_verify(const VerifyOptions& options, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
