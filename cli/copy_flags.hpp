// `pgblit copy`'s flags, bound to the options they set: the copy's own (runs::CopyOptions), the
// dry run's for --dry-run (dryrun::DryRunOptions), and what only the command line has:
// confirmation, progress, the run folder, hooks, the metrics file, the job file. A job file's
// settings go through these same definitions (job_file.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli/job_file.hpp"
#include "core/defaults.hpp"
#include "dryrun/dry_run.hpp"
#include "report/metrics.hpp"
#include "runs/copy_run.hpp"

namespace pgblit::cli {

struct CopyCommand {
  runs::CopyOptions options;
  bool dry_run = false;              // --dry-run: the dry run of this copy, as pgblit plan
  dryrun::DryRunOptions dry_run_options;
  bool yes = false;
  std::string resume_run;            // --resume's RUN_ID ("": the latest unfinished run), read when the run starts
  std::string keep;                  // --keep's duration, read when the run starts
  std::string progress = "auto";
  double progress_interval = 10;
  std::string run_dir = kDefaultRunDir;
  std::string on_event;
  double on_event_timeout = 30;
  std::string metrics_file;
  std::string job;
  std::shared_ptr<JobFile> job_file;
  std::shared_ptr<report::MetricsFile> metrics;  // opened before anything connects (a bad path: exit 2)
};

// Declares every flag of `command` (the copy subcommand) on the fields of `copy`.
void add_copy_flags(CLI::App& command, CopyCommand& copy);

}  // namespace pgblit::cli
