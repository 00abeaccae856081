// `pgblit copy` as one object: constructing a CopyRun connects, exports the snapshot, plans
// (or, to resume or join a run, loads its plan from the run catalog) and checks the target,
// writing nothing; execute() then records the run, moves every chunk not yet done, verifies,
// resets sequences and analyzes. Every problem the checks can see is reported before the
// first row moves.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/defaults.hpp"
#include "core/events.hpp"
#include "start/copy_settings.hpp"
#include "mover/deferred_rebuild.hpp"
#include "mover/run_catalog.hpp"
#include "start/run_setup.hpp"
#include "mover/table_finisher.hpp"
#include "plan/planner.hpp"
#include "pg/cancellation.hpp"
#include "spool/spool_lock.hpp"
#include "target/fence.hpp"
#include "target/lock_waits.hpp"
#include "target/target_prep.hpp"

namespace pgblit::runs {

// What the copy does beside the settings its dry run prices too (start/copy_settings.hpp).
struct CopyOptions : start::CopySettings {
  bool create_schema = false;                   // create the selected tables from the source first
  bool no_owner = false;                        // with create_schema: pg_restore --no-owner
  bool no_acl = false;                          // with create_schema: pg_restore --no-acl
  bool resume = false;                          // continue a run: resume_run, or the latest unfinished
  std::optional<int64_t> resume_run;
  std::optional<int64_t> join_run;              // work on a running run beside its coordinator
  bool allow_source_changes = false;            // resume even if the source seems to have changed
  double retry_timeout = kDefaultRetryTimeoutSeconds;  // seconds a chunk retries transient failures
  int64_t max_rejects = 0;                      // rows the target may refuse before the run fails
  std::string rejects_dir = kDefaultRejectsDir;  // where rejected rows are written, a file a chunk
  std::string command_line;                      // as typed, passwords scrubbed: for the audit trail
  std::pair<std::string, std::string> job;       // --job: the file's path and XXH3 digest, for the audit trail
  std::string spool_dir;                         // also write every chunk's stream there (zstd); "": none
  int spool_level = kDefaultSpoolLevel;          // zstd level
  double spool_keep_seconds = 0;                 // the spool's expiry after its creation; 0: none
  std::string backup_target_dir;                 // spool the target tables that hold rows before writing
  bool fence = false;                            // the source read-only for everyone else during the run
  std::vector<std::string> fence_revoke;         // and CONNECT revoked from these roles
  std::string subscription_conninfo;             // with follow: how the target reaches the source; "": `source`
  nlohmann::json estimate;                       // the dry run's estimate (report/kept_estimate.hpp) or null
};

struct CopySummary {
  size_t tables = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  double seconds = 0;
  int sequences = 0;
  size_t chunks_verified = 0;  // compared chunk by chunk
  size_t tables_verified = 0;  // compared as a whole
  int64_t run_id = 0;
  size_t chunks_done_before = 0;  // by an earlier process (resume) or by other workers
  int64_t rejected = 0;           // rows set aside over the whole run (exit code 4)
  std::string rejects_dir;        // where they are, one file a chunk
};

// This process as a worker: host:pid, recorded with each chunk and lane.
std::string worker_name();

class CopyRun {
 public:
  explicit CopyRun(CopyOptions options);
  ~CopyRun();

  const plan::Plan& plan() const { return run_.plan; }
  bool joining() const { return options_.join_run.has_value(); }
  std::string target_display() const { return run_.target ? run_.target->display() : ""; }
  size_t deferred_objects() const { return deferral_.objects.size(); }
  int index_jobs() const { return options_.rebuilds_at_once(); }
  // The dry run's estimate this run is measured against, found once the plan says what moves:
  // the latest `pgblit plan` of this very selection into this target, kept in `run_dir`
  // (report/kept_estimate.hpp), or none; logs which.
  void take_kept_estimate(const std::string& run_dir);
  // Reports through `events` (run_started, phase, chunk_started, chunk_finished).
  CopySummary execute(pg::Cancellation& cancellation, Events& events);
  // Who runs what where: OS user, host, pgblit version, command line, both servers' versions,
  // identities and roles. Recorded with the run in the catalog and in run_started.
  nlohmann::json audit();

 private:
  CopyOptions options_;
  nlohmann::json options_json();
  void continue_run();
  void phase(Events& events, const std::string& name);
  std::vector<mover::ChunkRecord> start_run();
  void copy_chunks(std::vector<mover::ChunkRecord>& records, const std::function<void(const mover::ChunkOutcome&)>& on_outcome,
                   pg::Cancellation& cancellation, Events& events);
  void prepare_rejects_dir();
  void prepare_spool();                   // copy_spool.cpp
  void fence_source();
  void reserve_new_keys();
  void record_prior_state();              // rollback_record.cpp: what `pgblit rollback` puts back
  void record_end_state(pg::Cancellation& cancellation);  // rollback_record.cpp: what the run left
  void write_spool_manifest(bool complete, const std::vector<mover::ChunkRecord>& records);
  CopySummary finish(CopySummary summary, const mover::TableFinisher::Results& finished, pg::Cancellation& cancellation,
                     Events& events);
  verify::Report verify_run(const std::vector<mover::ChunkRecord>& records, const verify::TableDigests& read,
                            pg::Cancellation& cancellation);
  void reconnect_target_if_lost(pg::Cancellation& cancellation);
  // After a failure: which of the run's indexes and constraints stay dropped, and how to get
  // them back (logged; never throws).
  void report_dropped_objects(const pg::Cancellation& cancellation) noexcept;
  int set_sequences();  // how many moved

  target::LockWaitReporter lock_waits_;  // from the first statement on: says what a wait is for
  start::RunSetup run_;
  int64_t run_id_ = 0;  // in the catalog; 0 until execute() records a new run
  bool continued_ = false;  // --resume or --join: the run began in an earlier process
  bool reread_ = false;     // a resumed --follow run read changed rows again: they are verified again
  std::set<std::string> prefilled_;  // target tables that held rows before the copy (append)
  target::Deferral deferral_;        // a fresh run's objects to drop now and rebuild after loading
  std::unique_ptr<mover::DeferredRebuild> rebuild_;  // the coordinator's rebuild of the run's pending objects
  nlohmann::json audit_;                      // filled once by audit()
  std::unique_ptr<target::Fence> fence_;      // --fence: lifted when the run ends, however it ends
  spool::SpoolLock spool_lock_;               // --spool: held while this process writes it (prune skips it)
  mapping::Mapping mapping_;                  // --mapping, loaded before anything connects
  nlohmann::json prior_state_;                // the target before the run, for `pgblit rollback`
};

}  // namespace pgblit::runs
