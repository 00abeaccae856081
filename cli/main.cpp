// pgblit: moves PostgreSQL table data from a source server to a target server, fast, and
// proves what arrived is what left. This file only dispatches to the commands and turns
// every failure into one message and one exit code (docs/exit-codes.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "cli/clean_command.hpp"
#include "cli/common_flags.hpp"
#include "cli/copy_command.hpp"
#include "cli/follow_commands.hpp"
#include "cli/plan_command.hpp"
#include "cli/spool_command.hpp"
#include "cli/unfence_command.hpp"
#include "cli/report_command.hpp"
#include "cli/status_command.hpp"
#include "cli/verify_command.hpp"
#include "core/edit_distance.hpp"
#include "core/error.hpp"

namespace {

// An unknown command word gets its nearest command as a suggestion, not CLI11's "arguments
// were not expected".
void reject_unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return;
  std::string word = argv[1];
  std::string nearest;
  size_t best = 3;  // suggest only what is a typo away
  for (const auto* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (command->get_name() == word) return;
    if (size_t d = pgblit::edit_distance(word, command->get_name()); d < best) {
      best = d;
      nearest = command->get_name();
    }
  }
  throw pgblit::usage_error("unknown command '" + word + "'" + (nearest.empty() ? "" : "; did you mean '" + nearest + "'?"),
                            word, "pgblit --help lists the commands");
}

int run_command(int argc, char** argv) {
  using namespace pgblit;
  CLI::App app{"pgblit: move PostgreSQL table data between servers, fast and verified", "pgblit"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (--log-file, --log-level) may follow the command
  app.set_version_flag("--version", "pgblit " PGBLIT_VERSION);
  cli::LogFlags log_flags;
  cli::add_log_flags(app, log_flags);
  auto run_copy = cli::add_copy_command(app);
  auto run_plan = cli::add_plan_command(app);
  auto run_verify = cli::add_verify_command(app);
  auto run_clean = cli::add_clean_command(app);
  auto run_status = cli::add_status_command(app);
  auto run_report = cli::add_report_command(app);
  auto run_backup = cli::add_backup_command(app);
  auto run_restore = cli::add_restore_command(app);
  auto run_spool = cli::add_spool_command(app);
  auto run_unfence = cli::add_unfence_command(app);
  auto run_rollback = cli::add_rollback_command(app);
  auto run_cutover = cli::add_cutover_command(app);
  auto run_unfollow = cli::add_unfollow_command(app);
  cli::remember_command_line(argc, argv);
  try {
    reject_unknown_command(app, argc, argv);
    app.parse(argc, argv);
    cli::hide_passwords_from_process_list(argc, argv);
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\nhint: " << e.hint() << "\n";
    return exit_code(e.kind());
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
    if (app.got_subcommand("status")) return run_status();
    if (app.got_subcommand("report")) return run_report();
    if (app.got_subcommand("backup")) return run_backup();
    if (app.got_subcommand("restore")) return run_restore();
    if (app.got_subcommand("spool")) return run_spool();
    if (app.got_subcommand("unfence")) return run_unfence();
    if (app.got_subcommand("rollback")) return run_rollback();
    if (app.got_subcommand("cutover")) return run_cutover();
    if (app.got_subcommand("unfollow")) return run_unfollow();
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

}  // namespace

// Every object of the command is gone when run_command returns; what is left are the
// libraries' own finalizers. Under load a finished copy aborted in one of them (libpq's
// Kerberos library found its global mutex torn down: exit 134 after "done"). Nothing of
// pgblit's needs them, so flush what was written and leave without running them.
int main(int argc, char** argv) {
  int code = run_command(argc, argv);
  spdlog::shutdown();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
