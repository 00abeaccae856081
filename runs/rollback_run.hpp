// `pgblit rollback RUN_ID`: the target put back as it was before a copy run. Tables that were
// empty lose exactly the run's rows (TRUNCATE); tables that held rows (an append, or a
// truncate) are emptied and reloaded from the spool `copy --backup-target` made of them before
// the run wrote anything; the sequences of the tables' columns that the run moved get their
// earlier values back.
//
// It restores only what is still the run's: the run recorded at its end what it left in each
// table (table_state.hpp); if a table differs now (a later run, the application), the rollback
// is refused naming the tables and the later runs that wrote to them, unless --force.
//
// Check before you change: the backup is read through whole (every chunk file decompressed and
// digested), privileges checked, and the comparison made under a lock that keeps writers out,
// before anything is emptied. The emptying and the run's status "rolling back" commit together,
// after which the reload is a restore of the backup spool (exactly once per chunk), so a
// rollback cut short is simply run again; a target restart is ridden out (--retry-timeout).
// Refused, with nothing changed, for a run in progress, a run whose deferred indexes are not
// back yet, and tables that held rows when no backup was taken.
#pragma once

#include <cstdint>
#include <string>

#include "core/defaults.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::runs {

struct RollbackOptions {
  std::string target;  // connection string
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run_id = 0;
  int jobs = default_jobs();
  bool force = false;  // roll back even what later runs or other writers changed since the run ended
  double retry_timeout = kDefaultRetryTimeoutSeconds;  // seconds a lost target is waited for
};

struct RollbackSummary {
  size_t emptied = 0, reloaded = 0, sequences = 0;
  int64_t rows_reloaded = 0;
};

// What the rollback of `run_id` would do, in a sentence, for the confirmation (reads only).
std::string describe_rollback(const RollbackOptions& options);
RollbackSummary rollback(const RollbackOptions& options, pg::Cancellation& cancellation);

}  // namespace pgblit::runs
