// See copy_command.hpp.
#include "cli/copy_command.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "cli/common_flags.hpp"
#include "cli/confirmation.hpp"
#include "cli/copy_flags.hpp"
#include "cli/interrupts.hpp"
#include "cli/plan_command.hpp"
#include "core/events.hpp"
#include "core/units.hpp"
#include "report/console.hpp"
#include "report/hooks.hpp"
#include "report/progress.hpp"
#include "report/run_folder.hpp"
#include "report/run_record.hpp"
#include "spool/spool_folder.hpp"

namespace pgblit::cli {
namespace {

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
bool confirmed(runs::CopyRun& run, const CopyCommand& copy) {
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
      copy.options.on_existing == target::OnExisting::Truncate ? ", emptying those tables first" : "",
      run.deferred_objects() > 0
          ? fmt::format(", dropping {} of their indexes and constraints for the load and rebuilding them after",
                        run.deferred_objects())
          : "");
  return confirm(what, copy.yes, WithoutTerminal::Refuse);
}

// Flags that would be silently ignored or contradict each other are refused before anything connects.
void require_consistent_flags(const runs::CopyOptions& options) {
  if ((options.no_owner || options.no_acl) && !options.create_schema) {
    throw usage_error(fmt::format("{} applies to --create-schema only, which is not given; nothing was done",
                                  options.no_owner ? "--no-owner" : "--no-acl"),
                      options.no_owner ? "--no-owner" : "--no-acl",
                      "add --create-schema, or drop --no-owner and --no-acl");
  }
  if (options.resume && options.join_run) {
    throw usage_error("--resume and --join are two ways to continue a run: give one; nothing was done", "--join",
                      "--resume RUN_ID continues a stopped run; --join RUN_ID works beside a running one");
  }
}

// Flags that mean something only beside another one, refused once the connections are known.
void require_flags_they_need(const CopyCommand& copy) {
  const auto& options = copy.options;
  // --fence-revoke alone must not turn a fence on: the fence makes the source read-only and
  // ends sessions, which nobody asked for.
  if (!options.fence_revoke.empty() && !options.fence) {
    throw usage_error("--fence-revoke works only with --fence: nothing was done", "--fence-revoke",
                      "add --fence (the source read-only for everyone else during the run), or drop --fence-revoke");
  }
  if (options.follow && options.fence) {
    throw usage_error("--follow keeps the source online and --fence makes it read-only for the copy: give one; "
                      "nothing was done", "--follow", "with --follow, pgblit cutover fences the source at the end");
  }
  if (!options.subscription_conninfo.empty() && !options.follow) {
    throw usage_error("--subscription-source works only with --follow: nothing was done", "--subscription-source",
                      "add --follow, or drop --subscription-source");
  }
  if (!copy.keep.empty() && options.spool_dir.empty()) {
    throw usage_error("--keep sets a spool's expiry: it needs --spool", "--keep", "add --spool DIR, or drop --keep");
  }
}

int run_copy(CopyCommand& copy) {
  auto& options = copy.options;
  require_consistent_flags(options);
  if (copy.dry_run) {  // the same as pgblit plan with these flags: writes nothing
    PlanCommand plan{{.copy = options, .dry_run = copy.dry_run_options, .run_dir = copy.run_dir,
                      .job_file = copy.job_file ? copy.job_file->path : ""}, false};
    return run_plan(plan);
  }
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  require_connections(options.source, options.target);
  require_flags_they_need(copy);
  if (!copy.keep.empty()) options.spool_keep_seconds = spool::parse_duration(copy.keep);
  // Creating the schema writes to the target before there is a plan to show: ask first.
  if (options.create_schema && !confirm("About to create the selected tables' schema on the target from the source, "
                                        "then copy their rows.",
                                        copy.yes, WithoutTerminal::Refuse)) {
    spdlog::info("nothing created or copied: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  options.resume_run = run_id(copy.resume_run);
  options.command_line = command_line();
  if (copy.job_file) options.job = {copy.job_file->path, copy.job_file->digest};

  runs::CopyRun run(options);
  if (!options.resume && !run.joining()) run.take_kept_estimate(copy.run_dir);
  if (!options.resume && !run.joining() && !options.create_schema && !confirmed(run, copy)) {
    spdlog::info("nothing copied: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  Events events;
  auto folder = std::make_shared<report::RunFolder>(copy.run_dir, attach_run_log);
  events.subscribe(folder);
  events.subscribe(std::make_shared<report::Progress>(progress_mode(copy.progress), copy.progress_interval));
  if (!copy.on_event.empty()) events.subscribe(std::make_shared<report::Hooks>(copy.on_event, copy.on_event_timeout));
  if (copy.metrics) events.subscribe(copy.metrics);
  events.subscribe(std::make_shared<report::RunRecord>(options.target, options.catalog_schema));
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
  auto copy = std::make_shared<CopyCommand>();
  auto* cmd = app.add_subcommand("copy", "copy table data from the source server to the target server");
  add_copy_flags(*cmd, *copy);
  return [copy, cmd] {
    if (!copy->job.empty()) {  // before anything else: the file may name the metrics file
      copy->job_file = load_job_file(copy->job, *cmd);
      apply_job_file(*copy->job_file, *cmd);
    }
    if (!copy->metrics_file.empty()) {
      copy->metrics = std::make_shared<report::MetricsFile>(copy->metrics_file, copy->progress_interval);
      if (copy->job_file) copy->metrics->set_job(copy->job_file->path);
    }
    // The file's exit code is the command's, however it ended.
    try {
      int code = run_copy(*copy);
      if (copy->metrics) copy->metrics->finish(code);
      return code;
    } catch (const Error& e) {
      if (copy->metrics) copy->metrics->finish(exit_code(e.kind()));
      if (copy->job_file && !copy->job_file->inline_mapping.empty()) {  // name the job file, not its copy
        throw Error(e.kind(), copy->job_file->in_job_terms(e.what()), e.object(), e.hint(), e.sqlstate());
      }
      throw;
    } catch (...) {
      if (copy->metrics) copy->metrics->finish(exit_code(ErrorKind::Runtime));
      throw;
    }
  };
}

}  // namespace pgblit::cli
