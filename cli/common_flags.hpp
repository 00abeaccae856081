// Flags shared by the commands: connections, table selection, logging, and the copy's settings
// that several commands take. Each binds to the field of the command's options it sets (whose
// default is the option's own) and is documented here once; `--help`, docs/flags.md and the
// man page come from these texts.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

#include "plan/selection.hpp"
#include "target/target_prep.hpp"

namespace pgblit::cli {

struct LogFlags {
  std::string file;
  std::string level = "info";
};

void add_connection_flags(CLI::App& command, std::string& source, std::string& target);
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
// --window DURATION: the downtime the move may take (2h, 90m, 1h30m, 45s), in seconds.
void add_window_flag(CLI::App& command, double& window_seconds);
// A flag whose words set a typed field (--on-existing error|truncate|append, --verify
// full|off): any other word is refused with the words listed, as CLI::IsMember says it.
template <typename T>
CLI::Option* add_choice(CLI::App& command, const std::string& name, T& field,
                        const std::vector<std::pair<std::string, T>>& words, const std::string& help) {
  std::vector<std::string> names;
  for (const auto& word : words) names.push_back(word.first);
  return command
      .add_option_function<std::string>(
          name,
          [&field, words](const std::string& given) {
            for (const auto& [word, value] : words) {
              if (word == given) field = value;
            }
          },
          help)
      ->check(CLI::IsMember(names));
}
// --on-existing error|truncate|append.
void add_on_existing_flag(CLI::App& command, target::OnExisting& on_existing, const std::string& help);
// --verify full|off, --indexes defer|keep, --no-analyze: the copy's settings of those names.
void add_verify_flag(CLI::App& command, bool& verify, const std::string& help);
void add_indexes_flag(CLI::App& command, bool& defer_indexes, const std::string& help);
void add_no_analyze_flag(CLI::App& command, bool& analyze, const std::string& help);
// --index-jobs: 1 to 256.
void add_index_jobs_flag(CLI::App& command, int& index_jobs, const std::string& help);
// --spool-level: a zstd level, 1 to 19.
void add_spool_level_flag(CLI::App& command, int& level, const std::string& help);

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
void require_connections(std::string& source, std::string& target);
// The same for --target alone (commands that only touch the target).
void require_target(std::string& target);
// The same for a command that only reads a source (backup).
void require_source(std::string& source);

}  // namespace pgblit::cli
