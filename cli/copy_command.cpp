// See copy_command.hpp.
#include "core/defaults.hpp"
#include "cli/copy_command.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <iostream>
#include <optional>
#include <memory>
#include <thread>

#include "cli/common_flags.hpp"
#include "cli/confirmation.hpp"
#include "cli/plan_command.hpp"
#include "spool/spool_folder.hpp"
#include "cli/interrupts.hpp"
#include "cli/job_file.hpp"
#include "core/events.hpp"
#include "core/units.hpp"
#include "runs/copy_run.hpp"
#include "report/console.hpp"
#include "report/hooks.hpp"
#include "report/kept_estimate.hpp"
#include "report/metrics.hpp"
#include "report/progress.hpp"
#include "report/run_record.hpp"
#include "report/run_folder.hpp"

namespace pgblit::cli {
namespace {

struct CopyFlags {
  ConnectionFlags connections;
  plan::Selection selection;
  int jobs = default_jobs();
  std::string on_existing = "error";
  bool disable_triggers = false;
  bool no_analyze = false;
  bool yes = false;
  int64_t chunk_bytes = kDefaultChunkBytes;
  std::string verify = "full";
  std::string indexes = "defer";
  bool create_schema = false;
  bool no_owner = false;
  bool no_acl = false;
  int index_jobs = 0;
  std::string catalog_schema = kDefaultCatalogSchema;
  std::string resume_run;  // "" with --resume alone: the latest unfinished run
  bool resume = false;
  int64_t join_run = 0;
  bool allow_source_changes = false;
  double retry_timeout = kDefaultRetryTimeoutSeconds;
  int64_t max_rejects = 0;
  std::string rejects_dir = kDefaultRejectsDir;
  std::string progress = "auto";
  double progress_interval = 10;
  std::string run_dir = kDefaultRunDir;
  std::string on_event;
  double on_event_timeout = 30;
  bool dry_run = false;
  DryRunFlags dry;
  std::string spool;
  int spool_level = 3;
  std::string keep;
  bool fence = false;
  std::vector<std::string> fence_revoke;
  std::string backup_target;
  std::string mapping;
  std::string metrics_file;
  std::string job;
  std::shared_ptr<JobFile> job_file;
  std::shared_ptr<report::MetricsFile> metrics;  // opened before anything connects (a bad path: exit 2)
  bool follow = false;
  std::string subscription_source;
  std::string window;  // --window: the downtime the run may use
};

report::ProgressMode progress_mode(const std::string& mode) {
  if (mode == "auto") return report::Console::is_terminal() ? report::ProgressMode::Bar : report::ProgressMode::Log;
  if (mode == "bar") return report::ProgressMode::Bar;
  if (mode == "log") return report::ProgressMode::Log;
  if (mode == "json") return report::ProgressMode::Json;
  return report::ProgressMode::Off;
}

std::optional<int64_t> run_id(const std::string& text) {
  if (text.empty()) return std::nullopt;
  int64_t id = 0;
  if (!plain_count(text, id) || id <= 0) {
    throw usage_error("'" + text + "' is not a run id", text, "run ids are positive numbers: SELECT id FROM pgblit.runs");
  }
  return id;
}

// What the copy will change, shown before it does: the target, the tables, the estimate, what
// is emptied, what is dropped for the load. On a terminal it waits for a yes; without one it
// needs --yes (a script must say so).
bool confirmed(runs::CopyRun& run, const CopyFlags& flags) {
  // A table never analyzed has no row estimate: "about 0 rows" would understate the copy.
  int64_t rows = 0;
  bool uncounted = false;
  for (const auto& t : run.plan().tables) {
    rows += std::max<int64_t>(t.estimated_rows, 0);
    uncounted = uncounted || t.estimated_rows < 0;
  }
  std::string row_text = uncounted ? fmt::format("at least {} rows: some tables were never analyzed", rows)
                                   : fmt::format("about {} rows", rows);
  std::string what = fmt::format(
      "About to copy {} tables ({}, {}) into {}{}{}.", run.plan().tables.size(), row_text,
      human_bytes(static_cast<double>(run.plan().estimated_bytes())), run.target_display(),
      flags.on_existing == "truncate" ? ", emptying those tables first" : "",
      run.deferred_objects() > 0
          ? fmt::format(", dropping {} of their indexes and constraints for the load and rebuilding them after",
                        run.deferred_objects())
          : "");
  return confirm(what, flags.yes, WithoutTerminal::Refuse);
}

// The estimate of the latest dry run of this very selection into this target (pgblit plan
// before the copy, report/kept_estimate.hpp), or null.
nlohmann::json kept_estimate_for(runs::CopyRun& run, const std::string& run_dir) {
  std::vector<std::string> tables;
  for (const auto& t : run.plan().tables) tables.push_back(t.source + " -> " + t.target);
  auto audit = run.audit();
  auto side = [&](const char* name) {
    return audit[name].value("cluster", "") + "/" + audit[name].value("database", "");
  };
  auto estimate = report::kept_estimate(run_dir, report::estimate_key(side("source") + " -> " + side("target"), tables));
  if (estimate.is_null()) {
    spdlog::info("no dry run of this selection in {} from the last 24 h: the report will have no estimate to compare "
                 "with (run pgblit plan first)", run_dir);
  } else {
    spdlog::info("the dry run of {} estimated {:.1f} s: the report compares the run with it",
                 estimate["planned_at"].get<std::string>(), estimate["seconds"].get<double>());
  }
  return estimate;
}

// Flags that would be silently ignored or contradict each other are refused before anything connects.
void require_consistent_flags(const CopyFlags& flags) {
  if ((flags.no_owner || flags.no_acl) && !flags.create_schema) {
    throw usage_error(fmt::format("{} applies to --create-schema only, which is not given; nothing was done",
                                  flags.no_owner ? "--no-owner" : "--no-acl"),
                      flags.no_owner ? "--no-owner" : "--no-acl",
                      "add --create-schema, or drop --no-owner and --no-acl");
  }
  if (flags.resume && flags.join_run != 0) {
    throw usage_error("--resume and --join are two ways to continue a run: give one; nothing was done", "--join",
                      "--resume RUN_ID continues a stopped run; --join RUN_ID works beside a running one");
  }
}

int run_copy(CopyFlags& flags) {
  require_consistent_flags(flags);
  if (flags.dry_run) {  // the same as pgblit plan with these flags: writes nothing
    PlanFlags plan;
    plan.connections = flags.connections;
    plan.selection = flags.selection;
    plan.chunk_bytes = flags.chunk_bytes;
    plan.disable_triggers = flags.disable_triggers;
    plan.indexes = flags.indexes;
    plan.jobs = flags.jobs;
    plan.on_existing = flags.on_existing;
    plan.catalog_schema = flags.catalog_schema;
    plan.index_jobs = flags.index_jobs;
    plan.verify = flags.verify;
    plan.no_analyze = flags.no_analyze;
    plan.dry = flags.dry;
    plan.mapping = flags.mapping;
    plan.follow = flags.follow;
    plan.run_dir = flags.run_dir;
    plan.window = flags.window;
    return run_plan(plan);
  }
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  require_connections(flags.connections);
  runs::CopyOptions options;
  options.source = flags.connections.source;
  options.target = flags.connections.target;
  options.selection = flags.selection;
  options.jobs = flags.jobs;
  options.on_existing = flags.on_existing == "truncate" ? target::OnExisting::Truncate
                        : flags.on_existing == "append" ? target::OnExisting::Append
                                                        : target::OnExisting::Error;
  options.disable_triggers = flags.disable_triggers;
  options.spool_dir = flags.spool;
  // --fence-revoke alone must not turn a fence on: the fence makes the source read-only and
  // ends sessions, which nobody asked for.
  if (!flags.fence_revoke.empty() && !flags.fence) {
    throw usage_error("--fence-revoke works only with --fence: nothing was done", "--fence-revoke",
                      "add --fence (the source read-only for everyone else during the run), or drop --fence-revoke");
  }
  if (flags.follow && flags.fence) {
    throw usage_error("--follow keeps the source online and --fence makes it read-only for the copy: give one; "
                      "nothing was done", "--follow", "with --follow, pgblit cutover fences the source at the end");
  }
  if (!flags.subscription_source.empty() && !flags.follow) {
    throw usage_error("--subscription-source works only with --follow: nothing was done", "--subscription-source",
                      "add --follow, or drop --subscription-source");
  }
  options.follow = flags.follow;
  options.subscription_conninfo = flags.subscription_source;
  options.fence = flags.fence;
  options.fence_revoke = flags.fence_revoke;
  options.backup_target_dir = flags.backup_target;
  options.mapping_file = flags.mapping;
  options.spool_level = flags.spool_level;
  if (!flags.keep.empty() && flags.spool.empty()) {
    throw usage_error("--keep sets a spool's expiry: it needs --spool", "--keep", "add --spool DIR, or drop --keep");
  }
  if (!flags.keep.empty()) options.spool_keep_seconds = spool::parse_duration(flags.keep);
  options.analyze = !flags.no_analyze;
  options.defer_indexes = flags.indexes == "defer";
  options.index_jobs = flags.index_jobs;
  options.create_schema = flags.create_schema;
  options.no_owner = flags.no_owner;
  options.no_acl = flags.no_acl;
  // Creating the schema writes to the target before there is a plan to show: ask first.
  if (flags.create_schema && !confirm("About to create the selected tables' schema on the target from the source, "
                                      "then copy their rows.",
                                      flags.yes, WithoutTerminal::Refuse)) {
    spdlog::info("nothing created or copied: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  options.chunk_bytes = flags.chunk_bytes;
  options.verify = flags.verify == "full";
  options.catalog_schema = flags.catalog_schema;
  options.resume = flags.resume;
  options.resume_run = run_id(flags.resume_run);
  if (flags.join_run != 0) options.join_run = flags.join_run;
  options.allow_source_changes = flags.allow_source_changes;
  options.retry_timeout = flags.retry_timeout;
  options.max_rejects = flags.max_rejects;
  options.rejects_dir = flags.rejects_dir;

  options.command_line = command_line();
  if (flags.job_file) options.job = {flags.job_file->path, flags.job_file->digest};
  if (!flags.window.empty()) options.window_seconds = window_seconds(flags.window);

  runs::CopyRun run(options);
  if (!flags.resume && !run.joining()) run.set_estimate(kept_estimate_for(run, flags.run_dir));
  if (!flags.resume && !run.joining() && !flags.create_schema && !confirmed(run, flags)) {
    spdlog::info("nothing copied: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  Events events;
  auto folder = std::make_shared<report::RunFolder>(flags.run_dir, attach_run_log);
  events.subscribe(folder);
  events.subscribe(std::make_shared<report::Progress>(progress_mode(flags.progress), flags.progress_interval));
  if (!flags.on_event.empty()) events.subscribe(std::make_shared<report::Hooks>(flags.on_event, flags.on_event_timeout));
  if (flags.metrics) events.subscribe(flags.metrics);
  events.subscribe(std::make_shared<report::RunRecord>(flags.connections.target, flags.catalog_schema));
  runs::CopySummary summary;
  try {
    summary = run.execute(cancellation, events);
  } catch (const Error& e) {
    events.emit("run_finished", {{"exit_code", exit_code(e.kind())}, {"message", e.what()}});
    if (!folder->path().empty()) spdlog::info("run folder: {} (report.html, pgblit.log)", folder->path().string());
    throw;
  }
  int code = summary.rejected > 0 ? exit_code(ErrorKind::Rejects) : 0;
  events.emit("run_finished", {{"exit_code", code},
                               {"rows", summary.rows},
                               {"bytes", summary.bytes},
                               {"seconds", summary.seconds},
                               {"rejected", summary.rejected},
                               {"verdict", summary.chunks_verified + summary.tables_verified > 0
                                               ? fmt::format("Verified: {} chunks and {} whole tables match the source.",
                                                             summary.chunks_verified, summary.tables_verified)
                                               : "Not verified (--verify off, or nothing to compare)."}});
  spdlog::info("done: run {}: {} tables, {} rows, {} in {:.2f} s ({}); {} sequences set", summary.run_id,
               summary.tables, summary.rows, human_bytes(static_cast<double>(summary.bytes)), summary.seconds,
               human_rate(static_cast<double>(summary.bytes), summary.seconds), summary.sequences);
  if (summary.rejected > 0) {
    spdlog::warn("finished with {} rejected rows, written with their reasons under {} (a file a chunk)",
                 summary.rejected, summary.rejects_dir);
  }
  if (!folder->path().empty()) spdlog::info("report: {}/report.html", folder->path().string());
  return code;
}

}  // namespace

std::function<int()> add_copy_command(CLI::App& app) {
  auto flags = std::make_shared<CopyFlags>();
  auto* cmd = app.add_subcommand("copy", "copy table data from the source server to the target server");
  add_connection_flags(*cmd, flags->connections);
  add_selection_flags(*cmd, flags->selection);
  add_jobs_flag(*cmd, flags->jobs, "chunks copied at once, each with a source and a target connection");
  cmd->add_flag("--follow", flags->follow,
                "keep the source online: copy from a logical replication slot's snapshot, then let a subscription "
                "on the target apply the source's changes until pgblit cutover (docs/follow.md)");
  cmd->add_option("--subscription-source", flags->subscription_source,
                  "with --follow: the connection string the target's server uses to reach the source (default: "
                  "--source)");
  cmd->add_option("--on-existing", flags->on_existing,
                  "target tables that already hold rows: error (refuse, the default), truncate (empty them "
                  "first), append (load beside them)")
      ->check(CLI::IsMember({"error", "truncate", "append"}));
  add_chunk_size_flag(*cmd, flags->chunk_bytes);
  cmd->add_flag("--disable-triggers", flags->disable_triggers,
                "load with session_replication_role = replica: no triggers, no foreign-key checks (superuser)");
  cmd->add_option("--verify", flags->verify,
                  "full (default): digest every row on both sides and compare, chunk by chunk; off: skip")
      ->check(CLI::IsMember({"full", "off"}));
  cmd->add_flag("--no-analyze", flags->no_analyze, "do not ANALYZE the target tables after the copy");
  cmd->add_option("--indexes", flags->indexes,
                  "defer (default): drop the indexes, primary keys, unique, exclusion and foreign-key constraints of "
                  "target tables that are empty, load, then rebuild them in parallel; keep: load with them in place")
      ->check(CLI::IsMember({"defer", "keep"}));
  cmd->add_flag("--create-schema", flags->create_schema,
                "create the selected tables on the target from the source first (pg_dump and pg_restore of their "
                "schema: types, sequences, tables; indexes and constraints rebuilt after the load; triggers, policies "
                "and rules applied last). -n/--schema selects schemas, as in pg_dump");
  cmd->add_flag("--no-owner", flags->no_owner, "with --create-schema: do not set the objects' owners (pg_restore --no-owner)");
  cmd->add_flag("--no-acl", flags->no_acl, "with --create-schema: do not restore privileges (pg_restore --no-acl)");
  cmd->add_option("--index-jobs", flags->index_jobs,
                  "indexes and constraints rebuilt at once, each on a target connection of its own (default: -j)")
      ->check(CLI::Range(1, kMaxJobs));
  add_yes_flag(*cmd, flags->yes);
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  auto* resume = cmd->add_option("--resume", flags->resume_run,
                                 "continue run RUN_ID (default: the latest unfinished run): chunks already done "
                                 "are skipped; a finished run is refused")
                     ->expected(0, 1);
  cmd->add_option("--join", flags->join_run,
                  "work on running run RUN_ID beside its coordinator, in its snapshot (any host)")
      ->check(run_id_number());
  cmd->add_flag("--allow-source-changes", flags->allow_source_changes,
                "resume even if the source tables changed since the run began");
  cmd->add_option("--max-rejects", flags->max_rejects,
                  "rows the target may refuse (constraint, encoding, length) before the run fails; they are set "
                  "aside in the rejects files and the rest loads (default: 0, the first refused row fails its chunk)")
      ->check(count_number());
  cmd->add_option("--rejects-dir", flags->rejects_dir,
                  "folder for rejected rows, one file a chunk, written before the chunk commits; checked to be "
                  "writable before the first row moves (default: pgblit-rejects)");
  cmd->add_option("--retry-timeout", flags->retry_timeout,
                  "seconds a chunk keeps retrying after a lost connection or server restart (default: 300)")
      ->check([](const std::string& text) -> std::string {
        double seconds = 0;
        bool ok = CLI::detail::lexical_cast(text, seconds) && std::isfinite(seconds) && seconds >= 0;
        return ok ? "" : "the retry timeout is a number of seconds, 0 or more";
      });
  cmd->add_option("--progress", flags->progress,
                  "auto (default: a bar on a terminal, else a log line every --progress-interval), bar, log, json "
                  "(every event as a JSON line on stdout, docs/events.md), off")
      ->check(CLI::IsMember({"auto", "bar", "log", "json", "off"}));
  cmd->add_option("--progress-interval", flags->progress_interval,
                  "seconds between progress lines when not drawing a bar (default: 10)")
      ->check(CLI::Range(0.5, 3600.0));
  cmd->add_option("--run-dir", flags->run_dir,
                  "folder of run folders: RUN_ID/ gets pgblit.log (debug), events.jsonl, report.json, report.html "
                  "(default: pgblit-runs)");
  cmd->add_option("--on-event", flags->on_event,
                  "run this shell command at the start, at every phase change and at the end, with the event in "
                  "PGBLIT_EVENT, PGBLIT_RUN_ID, PGBLIT_PHASE, PGBLIT_EXIT_CODE and as JSON on its standard input; "
                  "a hook that fails or hangs is logged and never stops the run");
  cmd->add_option("--on-event-timeout", flags->on_event_timeout,
                  "seconds a hook may run before it is stopped (default: 30)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_flag("--dry-run", flags->dry_run,
                 "do not copy: the dry run of this copy, as pgblit plan (findings, go or no-go: exit 0 or 5)");
  add_dry_run_flags(*cmd, flags->dry, "with --dry-run: ");
  cmd->add_option("--spool", flags->spool,
                  "also write every chunk's stream to this folder as a zstd file, by the same read, with a manifest: "
                  "a backup that pgblit restore (or zstd -dc | psql \\copy) loads (docs/spool.md)");
  cmd->add_option("--spool-level", flags->spool_level, "zstd level of the spool (default: 3)")->check(CLI::Range(1, 19));
  add_mapping_flag(*cmd, flags->mapping);
  cmd->add_option("--backup-target", flags->backup_target,
                  "before writing, spool the target tables that hold rows into this folder, so pgblit rollback "
                  "RUN_ID can put them back (tables that are empty need no backup)");
  cmd->add_flag("--fence", flags->fence,
                "offline move: the source database read-only for everyone else during the run (its default set to "
                "read-only, other sessions ended), recorded in the run catalog first and lifted at the end, on "
                "failure and on Ctrl-C; after a crash, pgblit unfence (needs the database's owner)");
  cmd->add_option("--fence-revoke", flags->fence_revoke,
                  "with --fence: also revoke CONNECT on the source database from this role for the run (repeatable)");
  cmd->add_option("--keep", flags->keep, "with --spool: the spool expires after this long (90d, 12h, 30m; "
                                         "pgblit spool prune removes it then; default: never)");
  cmd->add_option("--metrics-file", flags->metrics_file,
                  "write the run's figures (rows, bytes, chunks done and planned, rejects, phase durations, exit "
                  "code) to this file in the Prometheus text format, replaced whole every --progress-interval and "
                  "at the end (for node_exporter's textfile collector)");
  add_window_flag(*cmd, flags->window);
  add_job_flag(*cmd, flags->job);
  cmd->callback([flags, resume] { flags->resume = resume->count() > 0; });
  return [flags, cmd] {
    if (!flags->job.empty()) {  // before anything else: the file may name the metrics file
      flags->job_file = load_job_file(flags->job, *cmd);
      apply_job_file(*flags->job_file, *cmd);
    }
    if (!flags->metrics_file.empty()) {
      flags->metrics = std::make_shared<report::MetricsFile>(flags->metrics_file, flags->progress_interval);
      if (flags->job_file) flags->metrics->set_job(flags->job_file->path);
    }
    // The file's exit code is the command's, however it ended.
    try {
      int code = run_copy(*flags);
      if (flags->metrics) flags->metrics->finish(code);
      return code;
    } catch (const Error& e) {
      if (flags->metrics) flags->metrics->finish(exit_code(e.kind()));
      if (flags->job_file && !flags->job_file->inline_mapping.empty()) {  // name the job file, not its copy
        throw Error(e.kind(), flags->job_file->in_job_terms(e.what()), e.object(), e.hint(), e.sqlstate());
      }
      throw;
    } catch (...) {
      if (flags->metrics) flags->metrics->finish(exit_code(ErrorKind::Runtime));
      throw;
    }
  };
}

}  // namespace pgblit::cli
