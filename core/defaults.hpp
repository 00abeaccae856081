// The defaults of pgblit's options, each written once: the engine's option structs and the
// CLI's flags (and so `--help` and docs/usage.md) take them from here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>

namespace pgblit {

inline constexpr int64_t kDefaultChunkBytes = int64_t{128} << 20;  // heap + TOAST bytes per chunk
inline constexpr int64_t kMinChunkBytes = int64_t{64} << 10;       // below this a chunk is all overhead
inline constexpr const char* kDefaultCatalogSchema = "pgblit";     // the run catalog's schema on the target
inline constexpr double kDefaultRetryTimeoutSeconds = 300;         // how long a chunk retries transient failures
inline constexpr const char* kDefaultRejectsDir = "pgblit-rejects";
inline constexpr const char* kDefaultRunDir = "pgblit-runs";     // a folder per run: log, events, reports
inline constexpr int kMaxJobs = 256;
inline constexpr int kDefaultSpoolLevel = 3;                     // zstd level of spool files (1 to 19)

// -j: the number of CPU cores, at least 2.
inline int default_jobs() { return static_cast<int>(std::max(2u, std::thread::hardware_concurrency())); }

// The comment on every table of a run catalog (and the fence records beside it): what marks a
// table as pgblit's own, so `clean` drops nothing else (mover/run_catalog_owner.cpp).
inline constexpr const char* kCatalogTableMarker = "pgblit run catalog: made by pgblit, dropped by pgblit clean --all";

}  // namespace pgblit
