// A run's deferred indexes and constraints, from the decision to the last rebuild: what the
// copy of the chunks does not see. target/deferred.hpp decides what to defer and how to
// re-create it, target/rebuild.hpp rebuilds in parallel; this joins them to the run catalog:
// the definitions are recorded in the transaction that drops the objects, each object is
// marked rebuilt in the transaction that completes it, and failures are kept with it.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/defaults.hpp"
#include "mover/run_catalog.hpp"
#include "pg/cancellation.hpp"
#include "target/deferred.hpp"
#include "target/rebuild.hpp"

namespace pgblit::mover {

class DeferredRebuild {
 public:
  // Records the deferral's objects for `run` and drops them, in the caller's open transaction
  // on the catalog's connection: nothing is dropped whose definition is not written down.
  static void record_and_drop(RunCatalog& catalog, pg::Connection& target, int64_t run,
                              const target::Deferral& deferral);

  // Starts rebuilding the run's pending objects (from the catalog) as their tables load; a
  // build retries a lost target for `retry_timeout` seconds (the command's --retry-timeout).
  DeferredRebuild(RunCatalog& catalog, int64_t run, const plan::Plan& plan, const std::string& target_conninfo,
                  int index_jobs, pg::Cancellation& cancellation, double retry_timeout = kDefaultRetryTimeoutSeconds);
  ~DeferredRebuild();

  size_t pending() const { return pending_; }
  void table_loaded(const std::string& table);
  // Waits for every object; logs the time per object class and each failure with its
  // offending keys, which it records in the catalog. Returns how many failed.
  size_t finish(pg::Connection& target);
  // After the load failed: rebuilds what it can (the objects of tables loaded whole), records
  // failures like finish(); the rest stays pending. Returns how many failed.
  size_t finish_loaded(pg::Connection& target);
  // Stops after what is being built now; the rest stays pending.
  void stop() { rebuilder_.reset(); }

 private:
  std::string catalog_schema_;
  int64_t run_;
  std::vector<target::DeferredObject> objects_;
  size_t pending_ = 0;
  size_t report(pg::Connection& target, const target::RebuildTotals& totals);

  std::unique_ptr<target::Rebuilder> rebuilder_;
};

// After a failed load (copy or restore): rebuilds the objects of `loaded` (tables whose every
// chunk is in) unless the DBA stopped the run (Ctrl-C, SIGTERM: `cancellation`'s reason), then
// logs what of run `run` stays dropped and the command that brings it back. Never throws.
void settle_after_failure(const std::string& target_conninfo, const std::string& catalog_schema, int64_t run,
                          const plan::Plan& plan, const std::vector<std::string>& loaded, int index_jobs,
                          const pg::Cancellation& cancellation, double retry_timeout) noexcept;

}  // namespace pgblit::mover
