// See common_flags.hpp.
#include "cli/common_flags.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <utility>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "core/secrets.hpp"
#include "pg/conninfo.hpp"
#include "report/console.hpp"

namespace pgblit::cli {
namespace {

// Every log line, on the console and in the log files, passes through the process's Secrets
// before a sink formats it (the last line of defence against a password in a message), and
// has its control characters escaped (a table name cannot forge a log line).
class ScrubbingSink : public spdlog::sinks::dist_sink_mt {
 public:
  explicit ScrubbingSink(std::vector<spdlog::sink_ptr> sinks) : spdlog::sinks::dist_sink_mt(std::move(sinks)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text = printable_message(Secrets::process().scrub(std::string(msg.payload.data(), msg.payload.size())));
    spdlog::details::log_msg scrubbed = msg;
    scrubbed.payload = text;
    spdlog::sinks::dist_sink_mt::sink_it_(scrubbed);
  }
};

}  // namespace

void add_connection_flags(CLI::App& command, std::string& source, std::string& target) {
  command.add_option("--source", source, "source server: libpq URI or key=value string (default: $SOURCE_DATABASE_URL)");
  command.add_option("--target", target, "target server: libpq URI or key=value string (default: $TARGET_DATABASE_URL)");
}

void add_selection_flags(CLI::App& command, plan::Selection& selection) {
  command.add_option("-n,--schema", selection.schemas, "copy the tables of schemas matching this pattern (repeatable)");
  command.add_option("-t,--table", selection.tables,
                     "copy tables matching this pattern, [schema.]table, * and ? wildcards (repeatable)");
  command.add_option("-T,--exclude-table", selection.excluded, "leave out tables matching this pattern (repeatable)");
}

void add_log_flags(CLI::App& app, LogFlags& flags) {
  app.add_option("--log-file", flags.file, "also write the log to this file (appended)");
  app.add_option("--log-level", flags.level, "trace, debug, info, warn or error (default: info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

void add_chunk_size_flag(CLI::App& command, int64_t& chunk_bytes) {
  command.add_option("--chunk-size", chunk_bytes,
                     "split tables into chunks of about this size, heap + TOAST (default: 128MiB; at least 64kB; "
                     "units kB, MB, GB)")
      ->transform(CLI::AsSizeValue(false))
      ->check([](const std::string& bytes) -> std::string {
        int64_t n = 0;
        if (!CLI::detail::lexical_cast(bytes, n) || n < kMinChunkBytes) {
          return "a chunk must be at least 64kB (the default is 128MB)";
        }
        return "";
      });
}

void add_window_flag(CLI::App& command, double& window_seconds) {
  command.add_option_function<std::string>(
      "--window", [&window_seconds](const std::string& text) { window_seconds = parse_span(text).value_or(0); },
      "the downtime window the move must fit in (2h, 90m, 1h30m, 45s): plan says whether its estimate fits; copy's "
      "report and summary show the time used against it, flagged when over (default: none)")
      ->check([](const std::string& text) -> std::string {
        return parse_span(text) ? "" : "'" + text + "' is not a duration: write it as 2h, 90m, 1h30m or 45s";
      });
}

void add_on_existing_flag(CLI::App& command, target::OnExisting& on_existing, const std::string& help) {
  add_choice<target::OnExisting>(command, "--on-existing", on_existing,
                                 {{"error", target::OnExisting::Error},
                                  {"truncate", target::OnExisting::Truncate},
                                  {"append", target::OnExisting::Append}},
                                 help);
}

void add_verify_flag(CLI::App& command, bool& verify, const std::string& help) {
  add_choice<bool>(command, "--verify", verify, {{"full", true}, {"off", false}}, help);
}

void add_indexes_flag(CLI::App& command, bool& defer_indexes, const std::string& help) {
  add_choice<bool>(command, "--indexes", defer_indexes, {{"defer", true}, {"keep", false}}, help);
}

void add_no_analyze_flag(CLI::App& command, bool& analyze, const std::string& help) {
  command.add_flag_callback("--no-analyze", [&analyze] { analyze = false; }, help);
}

void add_index_jobs_flag(CLI::App& command, int& index_jobs, const std::string& help) {
  command.add_option("--index-jobs", index_jobs, help)->check(CLI::Range(1, kMaxJobs));
}

void add_spool_level_flag(CLI::App& command, int& level, const std::string& help) {
  command.add_option("--spool-level", level, help)->check(CLI::Range(1, 19));
}

void add_jobs_flag(CLI::App& command, int& jobs, const std::string& what) {
  command.add_option("-j,--jobs", jobs, what + " (default: the number of CPU cores, at least 2)")
      ->check(CLI::Range(1, kMaxJobs));
}

void add_catalog_schema_flag(CLI::App& command, std::string& schema) {
  command.add_option("--catalog-schema", schema, "schema of the run catalog on the target (default: pgblit)")
      ->check([](const std::string& name) -> std::string {
        if (name.empty()) return "the catalog schema needs a name";
        if (name == "information_schema" || name.rfind("pg_", 0) == 0) return name + " is a system schema";
        return "";
      });
}

// CLI11 reads numbers with strtoll (base 0), which saturates 99999999999999999999 to the
// largest int64 and reads 010 as octal, so only the plain form is let through to it.
bool plain_count(const std::string& text, int64_t& value) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && value >= 0;
}

CLI::Validator run_id_number() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        int64_t id = 0;
        return plain_count(text, id) && id > 0 ? "" : "'" + text + "' is not a run id (a positive number)";
      },
      "RUN_ID");
}

CLI::Validator count_number() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        int64_t n = 0;
        return plain_count(text, n) ? ""
                                    : "'" + text + "' is not a count (0 or more, at most 9223372036854775807)";
      },
      "COUNT");
}

void add_yes_flag(CLI::App& command, bool& yes) {
  command.add_flag("-y,--yes", yes, "do not ask for confirmation (needed to confirm without a terminal)");
}

namespace {

// Every sink of the process's logger, behind the scrubbing sink; and the lines logged before
// the run folder exists, kept for its pgblit.log.
std::shared_ptr<ScrubbingSink> all_sinks;
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> early_lines;
constexpr size_t kEarlyLines = 10000;

}  // namespace

void set_up_logging(const LogFlags& flags) {
  auto level = spdlog::level::from_str(flags.level);
  auto console = std::make_shared<report::ConsoleLogSink>();
  console->set_level(level);
  std::vector<spdlog::sink_ptr> sinks{console};
  if (!flags.file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(flags.file));
      sinks.back()->set_level(level);
    } catch (const spdlog::spdlog_ex& e) {
      throw usage_error(std::string("cannot open the log file: ") + e.what(), flags.file,
                        "check that its folder exists and is writable");
    }
  }
  early_lines = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kEarlyLines);
  sinks.push_back(early_lines);
  all_sinks = std::make_shared<ScrubbingSink>(sinks);
  auto logger = std::make_shared<spdlog::logger>("pgblit", all_sinks);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  logger->set_level(spdlog::level::debug);  // each sink filters; the run folder's log keeps everything
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

namespace {
std::vector<std::string> arguments;

// Where the passwords given in `arg` lie in it, as (offset, length), left to right; spans that
// overlap (one password found twice, or inside another) are merged into one.
std::vector<std::pair<size_t, size_t>> password_spans(std::string_view arg) {
  std::vector<std::pair<size_t, size_t>> found;
  for (const auto& password : pg::passwords_in(std::string(arg))) {
    for (size_t at = arg.find(password); at != std::string_view::npos; at = arg.find(password, at + password.size())) {
      found.emplace_back(at, password.size());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::pair<size_t, size_t>> spans;
  for (auto [at, size] : found) {
    if (!spans.empty() && at <= spans.back().first + spans.back().second) {
      spans.back().second = std::max(spans.back().second, at + size - spans.back().first);
    } else {
      spans.emplace_back(at, size);
    }
  }
  return spans;
}

}  // namespace

void remember_command_line(int argc, char** argv) { arguments.assign(argv, argv + argc); }

void hide_passwords_from_process_list(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (auto [at, size] : password_spans(argv[i])) std::fill_n(argv[i] + at, size, '*');
  }
}

std::string command_line() {
  std::string out;
  for (auto arg : arguments) {
    auto spans = password_spans(arg);
    // Right to left, so the offsets still left to replace hold.
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) arg.replace(it->first, it->second, "********");
    out += (out.empty() ? "" : " ") + arg;
  }
  return out;
}

void attach_run_log(const std::string& path) {
  if (!all_sinks) return;
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  file->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  if (early_lines) {
    std::ofstream earlier(path, std::ios::app);
    for (const auto& line : early_lines->last_formatted()) earlier << line;
    all_sinks->remove_sink(early_lines);
    early_lines.reset();
  }
  all_sinks->add_sink(file);
}

namespace {

void from_env(std::string& value, const char* name) {
  if (value.empty()) {
    if (const char* env = std::getenv(name)) value = env;
  }
  pg::scrub_password("", value);  // registers its passwords: no log line will carry them
}

}  // namespace

void require_target(std::string& target) {
  from_env(target, "TARGET_DATABASE_URL");
  if (target.empty()) throw usage_error("no target server given", "", "pass --target, or set TARGET_DATABASE_URL");
}

void require_source(std::string& source) {
  from_env(source, "SOURCE_DATABASE_URL");
  if (source.empty()) throw usage_error("no source server given", "", "pass --source, or set SOURCE_DATABASE_URL");
}

void require_connections(std::string& source, std::string& target) {
  from_env(source, "SOURCE_DATABASE_URL");
  from_env(target, "TARGET_DATABASE_URL");
  if (source.empty() || target.empty()) {
    throw usage_error(fmt::format("no {} server given", source.empty() ? "source" : "target"), "",
                      "pass --source and --target, or set SOURCE_DATABASE_URL and TARGET_DATABASE_URL");
  }
}

void add_mapping_flag(CLI::App& command, std::string& file) {
  command.add_option("--mapping", file,
                     "a YAML mapping file: target table names, column renames, SQL expressions, value maps, row "
                     "filters, skipped tables (docs/mapping.md)")
      ->check(CLI::ExistingFile);
}

}  // namespace pgblit::cli
