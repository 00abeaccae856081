// Starting `pgblit copy`: for a fresh run the schema (--create-schema), the plan and every check
// before anything is written, the deferral of indexes and constraints, the rejects folder;
// for --resume and --join the run's record from the catalog; then recording the run (and
// dropping what is deferred) in one transaction; and the audit trail. execute() is in
// copy_run.cpp.
#include <fmt/format.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/private_files.hpp"
#include "source/fingerprint.hpp"
#include "runs/copy_run.hpp"
#include "runs/follow_run.hpp"
#include "target/target_claims.hpp"
#include "runs/mapping_preflight.hpp"
#include "pg/conninfo.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "report/kept_estimate.hpp"
#include "runs/plan_run.hpp"
#include "target/preflight.hpp"
#include "target/schema_create.hpp"

namespace pgblit::runs {

std::string worker_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}:{}", host, getpid());
}

CopyRun::CopyRun(CopyOptions options) : options_(std::move(options)), lock_waits_(options_.target) {
  if (options_.join_run || options_.resume) {
    continue_run();
    return;
  }
  // A fence that could not hold is refused before anything is created, planned or confirmed.
  if (options_.fence) target::Fence::require_possible(options_.source, options_.fence_revoke);
  if (!options_.mapping_file.empty()) mapping_ = mapping::load_mapping(options_.mapping_file);
  const mapping::Mapping* mapping = options_.mapping_file.empty() ? nullptr : &mapping_;
  std::string after_load_sql;  // with --create-schema: triggers, policies, rules, for after the load
  if (options_.create_schema) {
    {
      auto source = pg::open_session(options_.source, "source");
      auto target = pg::open_session(options_.target, "target");
      start::require_distinct_databases(source, target);
      mover::RunCatalog(target, options_.catalog_schema).require_own_tables();  // before any table is created
    }
    after_load_sql = target::create_schema(
        {options_.source, options_.target, options_.selection, options_.no_owner, options_.no_acl});
  }
  run_ = start::open_run(options_, mapping);  // the dry run's start too (run_setup.hpp)
  if (options_.follow) require_followable(*run_.coordinator, *run_.target, options_.source, run_.plan);
  if (mapping) check_mapping_before_writing(*run_.coordinator, run_.plan, *mapping, options_.max_rejects);
  mover::RunCatalog(*run_.target, options_.catalog_schema).lock_coordinator();
  target::lock_target_tables(*run_.target, run_.plan.target_tables());
  target::refuse_pending_objects_of_other_runs(*run_.target, run_.plan.target_tables(), options_.catalog_schema, {}, "copy");
  mover::RunCatalog(*run_.target, options_.catalog_schema).require_own_tables();  // before anything is written
  if (options_.disable_triggers) target::require_superuser_for_disable_triggers(*run_.target);
  pgblit::target::check_target(*run_.target, *run_.coordinator, run_.plan,
               {options_.jobs, index_jobs(), options_.on_existing == target::OnExisting::Truncate, options_.verify,
                options_.catalog_schema, run_.same_cluster});
  auto filled = start::prefilled_tables(run_, options_.on_existing);
  prefilled_.insert(filled.begin(), filled.end());
  if (!filled.empty() && options_.on_existing == target::OnExisting::Error) {
    throw usage_error(fmt::format("target tables already hold rows: {}", fmt::join(filled, ", ")), filled[0],
                      "empty them, or choose --on-existing truncate (empties them first) or append");
  }
  deferral_ = start::defer_for_load(run_, options_, mapping, prefilled_);
  for (const auto& k : deferral_.kept) spdlog::info("kept in place while loading: {}: {}", k.what, k.why);
  prepare_spool();
  if (!after_load_sql.empty()) {
    target::DeferredObject script;
    script.kind = target::ObjectKind::Script;
    script.name = "triggers, policies, rules";
    script.script = after_load_sql;
    deferral_.objects.push_back(std::move(script));
  }
  prepare_rejects_dir();
  record_prior_state();
}

// --fence, once every check has passed and the run is confirmed (execute() calls it first):
// the source made read-only for everyone else, then a
// new snapshot taken, so no write between the planning snapshot and the fence is missed (the
// plan's first and last ranges are open-ended, so new keys still fall in a chunk).
void CopyRun::fence_source() {
  fence_ = std::make_unique<target::Fence>(options_.source, options_.target, options_.catalog_schema,
                                           options_.fence_revoke, std::vector<int>{run_.coordinator->backend_pid()});
  pg::rollback_quietly(*run_.coordinator);
  run_.snapshot_id = pg::Snapshot(*run_.coordinator).id();
}

// --resume and --join: the run's plan and settings from the catalog. A finished run is never
// run again (it would report a verification it did not do and set sequences back).
void CopyRun::continue_run() {
  run_.target = std::make_unique<pg::Connection>(pg::open_session(options_.target, "target"));
  mover::RunCatalog catalog(*run_.target, options_.catalog_schema);
  auto record = catalog.load_run(options_.join_run ? options_.join_run : options_.resume_run);
  run_id_ = record.id;
  continued_ = true;
  if (record.status == "done") {
    throw usage_error(fmt::format("run {} finished at {}; nothing to {}", record.id, record.finished_at,
                                  joining() ? "join" : "resume"),
                      options_.catalog_schema, "start a new run with pgblit copy (without --resume or --join)");
  }
  if (record.options.value("kind", "") == "restore") {
    throw usage_error(fmt::format("run {} is a restore of the spool {}, not a copy", record.id,
                                  record.options.value("spool", "")),
                      options_.catalog_schema, "continue it with the same pgblit restore command");
  }
  if (record.status == "following" || record.status == "cutover" || record.status == "unfollowed") {
    throw usage_error(fmt::format("run {} is {}: its copy is finished", record.id, record.status),
                      options_.catalog_schema, "pgblit cutover " + std::to_string(record.id) + " or pgblit unfollow " +
                                                   std::to_string(record.id) + " (docs/follow.md)");
  }
  run_.plan = plan::plan_from_json(record.plan);
  options_.follow = record.options.value("follow", false);
  // A follow run's missing chunks come from a new slot's snapshot, and the rows changed since
  // its first are read again (follow_resume.hpp), in execute().
  // The run's own settings, not this command line's, decide how its chunks load and verify.
  options_.disable_triggers = record.options.value("disable_triggers", false);
  options_.verify = record.options.value("verify", true);
  options_.rejects_dir = record.options.value("rejects_dir", options_.rejects_dir);
  options_.fence = record.options.value("fence", false);  // a fence left by a killed run is lifted at the end
  if (auto spool = record.options.value("spool", nlohmann::json()); spool.is_object()) {
    options_.spool_dir = spool.value("dir", "");
    options_.spool_level = spool.value("level", kDefaultSpoolLevel);
    options_.spool_keep_seconds = spool.value("keep_seconds", 0.0);  // the expiry it was started with
    if (std::filesystem::is_directory(options_.spool_dir)) spool_lock_ = spool::SpoolLock::for_writing(options_.spool_dir);
  }
  for (const auto& t : record.options.value("prefilled", nlohmann::json::array())) prefilled_.insert(t.get<std::string>());
  if (options_.join_run) {
    if (record.status != "running") {
      throw usage_error(fmt::format("run {} is {}, not running: there is nothing to join", record.id, record.status),
                        "", "continue it with pgblit copy --resume " + std::to_string(record.id));
    }
    run_.snapshot_id = record.snapshot_id;
    catalog.hold_run(run_id_);
    catalog.hold_worker(worker_name());
    prepare_rejects_dir();
    spdlog::info("joining run {} (snapshot {}) as {}", record.id, run_.snapshot_id, worker_name());
    return;
  }
  catalog.lock_coordinator();
  auto tables = run_.plan.target_tables();
  target::lock_target_tables(*run_.target, tables);
  target::refuse_pending_objects_of_other_runs(*run_.target, tables, options_.catalog_schema, {run_id_}, "copy --resume");
  target::refuse_resume_over_later_runs(*run_.target, tables, options_.catalog_schema, run_id_, catalog.started_at(run_id_));
  run_.coordinator = std::make_unique<pg::Connection>(pg::open_session(options_.source, "source"));
  run_.same_cluster = start::require_distinct_databases(*run_.coordinator, *run_.target);
  catalog.hold_run(run_id_);
  catalog.hold_worker(worker_name());
  run_.snapshot_id = pg::Snapshot(*run_.coordinator).id();
  // A followed source changes all along: the resume reads what changed again (follow_resume.hpp).
  auto changed = options_.follow
                     ? std::vector<std::string>{}
                     : source::changed_tables(record.source_state, source::source_state(*run_.coordinator, run_.plan));
  if (!changed.empty()) {
    std::string list = fmt::format("{}", fmt::join(changed, ", "));
    if (!options_.allow_source_changes) {
      throw usage_error("the source changed since run " + std::to_string(record.id) + " began (or its statistics "
                            "were reset), so resuming could mix old and new rows: " + list,
                        changed[0], "start a new run, or resume anyway with --allow-source-changes");
    }
    spdlog::warn("the source changed since the run began: {}; resuming anyway (--allow-source-changes)", list);
  }
  pgblit::target::check_target(*run_.target, *run_.coordinator, run_.plan,
               {options_.jobs, index_jobs(), false, options_.verify, options_.catalog_schema, run_.same_cluster});
  prepare_rejects_dir();
  if (!options_.follow) {  // a follow run's new snapshot is its slot's (follow_resume.hpp)
    spdlog::warn("resuming run {}: its snapshot is gone, so the remaining chunks are read from a new one ({})",
                 record.id, run_.snapshot_id);
  }
}

// With a rejects budget, the folder must take files before the first row moves: a chunk's
// rejected rows are written there before the chunk commits.
void CopyRun::prepare_rejects_dir() {
  if (options_.max_rejects <= 0) return;
  std::error_code error;
  auto dir = std::filesystem::absolute(options_.rejects_dir, error);
  if (!error) create_private_directories(dir, error);  // rejected rows are table data
  if (!error) {
    auto probe = dir / fmt::format(".pgblit-probe-{}", getpid());
    bool written = static_cast<bool>(std::ofstream(probe) << "probe\n" << std::flush);
    std::error_code ignored;
    std::filesystem::remove(probe, ignored);
    if (!written) error = std::make_error_code(std::errc::permission_denied);
  }
  if (error) {
    throw usage_error(fmt::format("cannot write rejected rows to {}: {}", options_.rejects_dir, error.message()),
                      options_.rejects_dir, "choose a writable folder with --rejects-dir; nothing was written");
  }
  options_.rejects_dir = dir.string();
}

nlohmann::json CopyRun::options_json() {
  const char* on_existing[] = {"error", "truncate", "append"};
  return {{"source", pg::redact_conninfo(options_.source)},
          {"target", pg::redact_conninfo(options_.target)},
          {"schemas", options_.selection.schemas},
          {"tables", options_.selection.tables},
          {"excluded", options_.selection.excluded},
          {"jobs", options_.jobs},
          {"on_existing", on_existing[static_cast<int>(options_.on_existing)]},
          {"disable_triggers", options_.disable_triggers},
          {"chunk_bytes", options_.chunk_bytes},
          {"verify", options_.verify},
          {"indexes", options_.defer_indexes ? "defer" : "keep"},
          {"create_schema", options_.create_schema},
          {"audit", audit()},
          {"rejects_dir", options_.rejects_dir},
          {"spool", options_.spool_dir.empty() ? nlohmann::json()
                                               : nlohmann::json{{"dir", options_.spool_dir},
                                                                {"level", options_.spool_level},
                                                                {"keep_seconds", options_.spool_keep_seconds}}},
          {"fence", options_.fence},
          {"prior_state", prior_state_},
          {"fence_revoke", options_.fence_revoke},
          {"mapping", options_.mapping_file.empty() ? nlohmann::json()
                                                    : nlohmann::json{{"file", options_.mapping_file},
                                                                     {"digest", mapping_.digest}}},
          {"prefilled", prefilled_},
          {"follow", options_.follow},
          {"estimate", options_.estimate},
          {"window_seconds", options_.window_seconds > 0 ? nlohmann::json(options_.window_seconds) : nlohmann::json()}};
}

// Merging (new_keys): the block of keys the copied rows take is taken from the target's
// sequence with the run's record, so the target's own inserts never collide with them.
void CopyRun::reserve_new_keys() {
  for (const auto& t : run_.plan.tables) {
    const auto& keys = t.new_keys;
    if (keys.kind != "sequence" || keys.sequence.empty() || keys.count == 0) continue;
    int64_t last = keys.first + keys.count - 1;
    run_.target->exec(fmt::format("SELECT setval({0}, GREATEST((SELECT last_value FROM {1}), {2}))",
                                  pg::quote_literal(keys.sequence), keys.sequence, last),
                      t.target);
    spdlog::info("{}: keys {} to {} taken from {} for the {} copied rows", t.target, keys.first, last, keys.sequence,
                 keys.count);
  }
}

// Records a new run (emptying the target tables first with --on-existing truncate), or marks
// a resumed one running again; returns its chunks' records.
std::vector<mover::ChunkRecord> CopyRun::start_run() {
  mover::RunCatalog catalog(*run_.target, options_.catalog_schema);
  const auto& plan = run_.plan;
  if (run_id_ == 0) {
    if (options_.on_existing == target::OnExisting::Truncate) {
      target::truncate_target_tables(*run_.target, plan);
      spdlog::info("truncated {} target tables", plan.target_tables().size());
    }
    // One transaction: a catalog exists only with its run in it.
    run_.target->exec("BEGIN", options_.catalog_schema);
    catalog.create_schema();
    run_id_ = catalog.create_run(plan, options_json(), run_.snapshot_id, source::source_state(*run_.coordinator, plan));
    mover::DeferredRebuild::record_and_drop(catalog, *run_.target, run_id_, deferral_);
    reserve_new_keys();
    run_.target->exec("COMMIT", options_.catalog_schema);
    catalog.hold_run(run_id_);
    catalog.hold_worker(worker_name());
    if (!deferral_.objects.empty()) {
      spdlog::info("deferred {} indexes and constraints until their tables are loaded (definitions kept in {}.objects)",
                   deferral_.objects.size(), options_.catalog_schema);
    }
  } else if (!joining()) {
    catalog.set_run_status(run_id_, "running");
  }
  auto records = catalog.chunks(run_id_, plan.chunks.size());
  write_spool_manifest(false, records);
  return records;
}

nlohmann::json CopyRun::audit() {
  if (!audit_.is_null()) return audit_;
  auto side = [](pg::Connection& conn) {
    auto id = start::identify(conn);
    return nlohmann::json{{"server", conn.display()},       {"version", id.server_version},
                          {"cluster", id.cluster},          {"database", id.database},
                          {"role", conn.exec("SELECT current_user").text(0, 0)}};
  };
  const passwd* user = getpwuid(getuid());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  audit_ = {{"pgblit_version", PGBLIT_VERSION}, {"os_user", user ? user->pw_name : std::to_string(getuid())},
            {"host", host},                     {"pid", getpid()},
            {"command_line", options_.command_line}};
  if (!options_.job.first.empty()) audit_["job"] = {{"file", options_.job.first}, {"digest", options_.job.second}};
  if (run_.coordinator) audit_["source"] = side(*run_.coordinator);
  if (run_.target) audit_["target"] = side(*run_.target);
  return audit_;
}

void CopyRun::take_kept_estimate(const std::string& run_dir) {
  auto estimate = report::kept_estimate(run_dir, kept_estimate_key(run_.plan, *run_.coordinator, *run_.target));
  if (estimate.is_null()) {
    spdlog::info("no dry run of this selection in {} from the last 24 h: the report will have no estimate to compare "
                 "with (run pgblit plan first)", run_dir);
  } else {
    spdlog::info("the dry run of {} estimated {:.1f} s: the report compares the run with it",
                 estimate["planned_at"].get<std::string>(), estimate["seconds"].get<double>());
  }
  options_.estimate = std::move(estimate);
}

}  // namespace pgblit::runs
