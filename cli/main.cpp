// pgblit: moves PostgreSQL table data from a source server to a target server, fast, and
// proves what arrived is what left. This file only dispatches to the commands and turns
// every failure into one message and one exit code (docs/exit-codes.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/clean_command.hpp"
#include "cli/common_flags.hpp"
#include "cli/copy_command.hpp"
#include "cli/plan_command.hpp"
#include "cli/verify_command.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  using namespace pgblit;
  CLI::App app{"pgblit: move PostgreSQL table data between servers, fast and verified"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (--log-file, --log-level) may follow the command
  app.set_version_flag("--version", "pgblit 0.1.0");
  cli::LogFlags log_flags;
  cli::add_log_flags(app, log_flags);
  auto run_copy = cli::add_copy_command(app);
  auto run_plan = cli::add_plan_command(app);
  auto run_verify = cli::add_verify_command(app);
  auto run_clean = cli::add_clean_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : exit_code(ErrorKind::Usage);
  }
  try {
    cli::set_up_logging(log_flags);
    if (app.got_subcommand("copy")) return run_copy();
    if (app.got_subcommand("plan")) return run_plan();
    if (app.got_subcommand("verify")) return run_verify();
    if (app.got_subcommand("clean")) return run_clean();
    return exit_code(ErrorKind::Usage);
  } catch (const Error& e) {
    std::string message = e.what();
    if (!e.object().empty() && message.find(e.object()) == std::string::npos) message = e.object() + ": " + message;
    spdlog::error("{}{}", message, e.sqlstate().empty() ? "" : " [SQLSTATE " + e.sqlstate() + "]");
    if (!e.hint().empty()) spdlog::error("hint: {}", e.hint());
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    spdlog::error("unexpected failure: {}", e.what());
    return exit_code(ErrorKind::Runtime);
  }
}
