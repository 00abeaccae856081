// What a copy does, as `pgblit copy` executes it and its dry run (`pgblit plan`, `copy
// --dry-run`) prices it: the connections, the selection, the chunk size, the lanes, what
// happens to target tables that hold rows, triggers, indexes, verification, ANALYZE. Each
// setting is defined here once, with its default; runs::CopyOptions adds what only a copy
// does, runs::PlanRunOptions what only the dry run does, and cli/ binds the flags of both
// commands to these fields.
#pragma once

#include <cstdint>
#include <string>

#include "core/defaults.hpp"
#include "mapping/mapping.hpp"
#include "plan/planner.hpp"
#include "plan/selection.hpp"
#include "target/target_prep.hpp"

namespace pgblit::start {

struct CopySettings {
  std::string source;  // libpq connection strings
  std::string target;
  plan::Selection selection;
  int jobs = default_jobs();                                  // lanes: chunks copied at once
  target::OnExisting on_existing = target::OnExisting::Error;  // target tables that hold rows
  bool disable_triggers = false;                              // load with session_replication_role = replica
  bool analyze = true;                                        // ANALYZE the target tables afterwards
  bool defer_indexes = true;  // drop indexes and constraints of empty tables, rebuild after
  int index_jobs = 0;         // rebuilds at once; 0: as many as jobs
  int64_t chunk_bytes = kDefaultChunkBytes;             // target chunk size, heap + TOAST bytes
  bool verify = true;                                   // --verify full: digest both sides and compare
  std::string catalog_schema = kDefaultCatalogSchema;  // where the run catalog lives on the target
  std::string mapping_file;                             // --mapping: renames, expressions, filters (mapping/)
  bool follow = false;         // --follow: read a slot's snapshot, then subscribe (runs/follow_run.hpp)
  double window_seconds = 0;   // --window: the downtime the move may use; 0: none given

  int rebuilds_at_once() const { return index_jobs > 0 ? index_jobs : jobs; }
  // The planner's options for this copy: deferred foreign keys check nothing while loading,
  // so with --indexes defer a self-referencing table may be split (start::defer_for_load
  // plans it whole again when its foreign key stays in place).
  plan::PlanOptions planning(const mapping::Mapping* mapping) const {
    plan::PlanOptions options{selection, disable_triggers, chunk_bytes, defer_indexes, mapping};
    options.foreign_keys_deferred = defer_indexes;
    return options;
  }
};

}  // namespace pgblit::start
