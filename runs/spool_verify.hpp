// `pgblit verify --spool DIR --target URI`: the target compared with a spool, chunk by chunk:
// each chunk's key range read back on the target (`jobs` at a time) and digested exactly as the
// manifest's digest was taken, so a missing, extra or changed row shows as a differing chunk,
// named with its range. No source is needed: the spool is the reference. Tables whose ranges
// name other rows on the target (ctid page ranges: rows land on other pages; a mapped key) are
// compared whole, against the sum of their chunks' digests. The manifest is untrusted input:
// its names are checked against the target's catalog and its ranges rendered from typed
// bounds (spool_catalog.hpp); a version 1 manifest (SQL predicates) is refused.
#pragma once

#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::runs {

struct SpoolVerifyOptions {
  std::string spool_dir;
  std::string target;  // connection string
  int jobs = default_jobs();
};

struct SpoolDifference {
  std::string what;  // "chunk 3 of "app"."orders" (id >= 100 AND id < 200)"
  int64_t spool_rows = 0, target_rows = 0;
};

struct SpoolVerifyReport {
  size_t chunks = 0;
  std::vector<SpoolDifference> differences;
  double seconds = 0;
};

SpoolVerifyReport verify_spool(const SpoolVerifyOptions& options, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
