// Flags shared by the commands: connections, table selection, logging. Each is documented
// here, once, with its default; `--help` and docs/usage.md come from these texts.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "plan/selection.hpp"

namespace pgblit::cli {

struct ConnectionFlags {
  std::string source;
  std::string target;
};

struct LogFlags {
  std::string file;
  std::string level = "info";
};

void add_connection_flags(CLI::App& command, ConnectionFlags& flags);
void add_selection_flags(CLI::App& command, plan::Selection& selection);
void add_log_flags(CLI::App& app, LogFlags& flags);
// --chunk-size: bytes with an optional unit (128MB, 1GiB; kB = 1024 bytes), at least 64 kB.
void add_chunk_size_flag(CLI::App& command, int64_t& chunk_bytes);
// -j/--jobs: 1 to 256; `what` says what one job does.
void add_jobs_flag(CLI::App& command, int& jobs, const std::string& what);
// --catalog-schema: a non-empty name that is not a system schema.
void add_catalog_schema_flag(CLI::App& command, std::string& schema);
// Validators with messages a person reads: a run id (a positive whole number), and a count
// (a whole number, 0 or more).
CLI::Validator run_id_number();
// A whole number written plainly in decimal (no sign, no leading zero) that fits in an int64.
bool plain_count(const std::string& text, int64_t& value);
CLI::Validator count_number();
// -y/--yes: do not ask for confirmation.
void add_yes_flag(CLI::App& command, bool& yes);
// --mapping FILE: the YAML mapping (docs/mapping.md).
void add_mapping_flag(CLI::App& command, std::string& file);
// --window DURATION: the downtime the move may take (2h, 90m, 1h30m, 45s); `window_seconds`
// reads a value the flag accepted.
void add_window_flag(CLI::App& command, std::string& window);
double window_seconds(const std::string& window);

// Sends logs to stderr (sharing it with the progress bar) and, with --log-file, to that file
// too, at --log-level; lines at debug level are kept until the run folder's log takes them.
void set_up_logging(const LogFlags& flags);
// The command line as typed, every password in it replaced (for the audit trail).
void remember_command_line(int argc, char** argv);
std::string command_line();
// Overwrites, in place, every password in the process's arguments with '*', so `ps` and
// /proc/PID/cmdline stop showing them once the flags are parsed (call after parsing: the
// parser reads argv). .pgpass, PGPASSWORD or a service file keep them out of argv entirely.
void hide_passwords_from_process_list(int argc, char** argv);
// Starts the run folder's pgblit.log (debug level) with every line logged so far.
void attach_run_log(const std::string& path);

// Fills --source/--target from SOURCE_DATABASE_URL/TARGET_DATABASE_URL, or fails naming them.
void require_connections(ConnectionFlags& flags);
// The same for --target alone (commands that only touch the target).
void require_target(ConnectionFlags& flags);
// The same for a command that only reads a source (backup).
void require_source(ConnectionFlags& flags);

}  // namespace pgblit::cli
