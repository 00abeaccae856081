// See common_flags.hpp.
#include "cli/common_flags.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "core/error.hpp"

namespace pgblit::cli {

void add_connection_flags(CLI::App& command, ConnectionFlags& flags) {
  command.add_option("--source", flags.source,
                     "source server: libpq URI or key=value string (default: $SOURCE_DATABASE_URL)");
  command.add_option("--target", flags.target,
                     "target server: libpq URI or key=value string (default: $TARGET_DATABASE_URL)");
}

void add_selection_flags(CLI::App& command, partitioner::Selection& selection) {
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
                     "split tables into chunks of about this size, heap + TOAST (default: 128MiB; units kB, MB, GB)")
      ->transform(CLI::AsSizeValue(false));
}

void set_up_logging(const LogFlags& flags) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!flags.file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(flags.file));
    } catch (const spdlog::spdlog_ex& e) {
      throw usage_error(std::string("cannot open the log file: ") + e.what(), flags.file,
                        "check that its folder exists and is writable");
    }
  }
  auto logger = std::make_shared<spdlog::logger>("pgblit", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(flags.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void require_connections(ConnectionFlags& flags) {
  auto from_env = [](std::string& value, const char* name) {
    if (!value.empty()) return;
    if (const char* env = std::getenv(name)) value = env;
  };
  from_env(flags.source, "SOURCE_DATABASE_URL");
  from_env(flags.target, "TARGET_DATABASE_URL");
  if (flags.source.empty() || flags.target.empty()) {
    throw usage_error(fmt::format("no {} server given", flags.source.empty() ? "source" : "target"), "",
                      "pass --source and --target, or set SOURCE_DATABASE_URL and TARGET_DATABASE_URL");
  }
}

}  // namespace pgblit::cli
