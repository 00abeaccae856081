// `pgblit restore`: a spool loaded into a target, `jobs` chunks at a time (parents before the
// tables whose foreign keys reference them, wave by wave), each chunk in a
// transaction of its own that commits only if its stream decompressed whole (zstd's content
// checksum) and its rows digest exactly as the manifest says (the digest verification uses).
// A corrupt or truncated file is named and nothing of its chunk is committed.
//
// Exactly once, and resumable, by copy's own path: the restore is a run of kind "restore" in
// the run catalog, one per spool and target table, and each chunk's transaction claims its
// row in `<catalog>.chunks` and marks it done (run_catalog.hpp), so running the same restore
// again after any failure or kill loads only what is missing, and two restores of one spool
// never load a chunk twice. As in `copy`, the tables' indexes and constraints are
// dropped first (recorded in the run catalog)
// and rebuilt in parallel as their tables complete. The target tables must exist (with their schema, as after
// migrations or `pg_restore --schema-only` of the spool's schema.sql) and be empty, or be
// emptied first with --on-existing truncate (on the first start only, never on a resume, and
// once `confirm` says yes). The manifest is untrusted: its tables and columns are checked
// against the target's catalog first (spool_catalog.hpp). `status` counts what a failed restore
// committed, as for a copy.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "core/defaults.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::runs {

struct RestoreOptions {
  std::string spool_dir;
  std::string target;          // connection string
  std::set<std::string> tables;  // target tables to restore ("schema"."table" or schema.table); empty: all
  int jobs = default_jobs();
  bool truncate = false;       // --on-existing truncate
  bool analyze = true;
  std::string catalog_schema = kDefaultCatalogSchema;
  bool defer_indexes = true;   // drop the tables' indexes and constraints, load, rebuild in parallel
  // Asked before tables that hold rows are emptied (--on-existing truncate, first start only),
  // with what is about to happen; false: refused, nothing written. Unset: no one is asked.
  std::function<bool(const std::string&)> confirm{};
  // A rollback reloading its tables holds their locks itself (target_claims.hpp).
  bool tables_locked_by_caller = false;
  double retry_timeout = kDefaultRetryTimeoutSeconds;  // seconds a lane or a rebuild waits for a lost target
};

struct RestoreSummary {
  size_t chunks = 0, chunks_before = 0, tables = 0;
  int64_t rows = 0, bytes = 0;
  double seconds = 0;
};

RestoreSummary restore(const RestoreOptions& options, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
