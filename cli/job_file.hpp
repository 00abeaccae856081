// `--job FILE` (copy and plan): the migration as one reviewed, versioned YAML file instead of a
// long command line (docs/job.md). Every setting in it is a flag of `pgblit copy`, given by its
// long name, so each one is defined, checked and documented once, where the flag is declared:
//
//   version: 1
//   source: {service: legacy_sales}        # a libpq service name (pg_service.conf)...
//   target: {env: NEW_SALES_URL}           # ...or the environment variable holding the URI
//   selection: {schema: [sales], exclude-table: [sales.audit_log]}
//   mapping: sales-mapping.yaml            # a path (beside this file), or the mapping inline
//   options: {jobs: 8, chunk-size: 256MB, on-existing: truncate, max-rejects: 100}
//   go-no-go: {max-warning-ratio: 0.001}
//   hooks: {on-event: "/usr/local/bin/notify-chat", on-event-timeout: 30}
//   window: 2h                             # the downtime the move must fit in (--window)
//
// A flag given on the command line wins over the file. A password anywhere in the file is
// refused, naming its line and column: the file is meant to be committed.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace pgblit::cli {

// One flag's value(s) from the file, and where they were written (file:line:col).
struct JobSetting {
  std::string flag;  // long name, without "--"
  std::vector<std::string> values;
  std::string where;
};

struct JobFile {
  std::string path;    // absolute
  std::string digest;  // XXH3 of the file's bytes, as the mapping's: the run records both
  std::vector<JobSetting> settings;
  // An inline mapping, written out (its lines where they are in the job file, the rest blank,
  // so the mapping's own line:col messages still point into the job file) for the planner.
  std::filesystem::path inline_mapping;
  ~JobFile();
  // `message` with the inline mapping's temporary path replaced by the job file's.
  std::string in_job_terms(std::string message) const;
};

// Reads and checks the file's shape (usage errors name file:line:col). `copy` is the copy
// command: every setting must be one of its flags.
std::shared_ptr<JobFile> load_job_file(const std::string& path, const CLI::App& copy);

// Gives `command` each setting it has and was not given on the command line (flags override
// the file), through the flag's own conversion and checks. A copy-only setting (spool, fence)
// is left out of plan.
void apply_job_file(const JobFile& job, CLI::App& command);

// --job FILE.
void add_job_flag(CLI::App& command, std::string& file);

}  // namespace pgblit::cli
