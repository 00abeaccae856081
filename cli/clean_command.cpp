// See clean_command.hpp.
#include "cli/clean_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "cli/common_flags.hpp"
#include "cli/confirmation.hpp"
#include "cli/interrupts.hpp"
#include "runs/clean_run.hpp"

namespace pgblit::cli {
namespace {

std::string describe(const runs::RunSummary& r) {
  return fmt::format("run {} ({}, started {}, {} of {} chunks done)", r.id, r.status, r.started_at, r.chunks_done,
                     r.chunks);
}

int run_clean(runs::CleanOptions& options, bool yes) {
  if ((options.run > 0) == options.all) {
    throw usage_error("say what to drop: a RUN_ID, or --all for the whole catalog", "",
                      "pgblit clean RUN_ID --target URI, or pgblit clean --all --target URI");
  }
  require_target(options.target);
  pg::Cancellation cancellation;
  if (options.restore_objects) route_interrupts_to(cancellation);
  std::string what;
  auto result = runs::clean(options, cancellation, [&](const runs::CleanPending& pending) {
    what = options.run > 0 ? describe(pending.runs[0])
                           : fmt::format("the whole run catalog {} on {} ({} runs)", options.catalog_schema,
                                         pending.target, pending.runs.size());
    return confirm(fmt::format("About to drop {}. Resuming it will no longer be possible.", what), yes,
                   WithoutTerminal::Refuse);
  });
  if (!result) {
    spdlog::info("nothing dropped: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  if (options.run > 0) {
    spdlog::info("dropped {} from the catalog {}", what, options.catalog_schema);
    return 0;
  }
  spdlog::info("dropped {} runs and the catalog tables {}", result->runs.size(), fmt::join(result->tables, ", "));
  for (const auto& t : result->not_pgblits) {
    spdlog::warn("kept {}: it has a catalog table's name but pgblit did not create it", t);
  }
  if (result->schema_dropped) {
    spdlog::info("dropped the schema {}, which pgblit had created", options.catalog_schema);
  } else {
    spdlog::info("kept the schema {}: {}", options.catalog_schema, result->schema_kept);
  }
  return 0;
}

}  // namespace

std::function<int()> add_clean_command(CLI::App& app) {
  auto options = std::make_shared<runs::CleanOptions>();
  auto yes = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("clean", "drop one finished or failed run from the run catalog, or (--all) the "
                                          "whole catalog; never anything that is not pgblit's own");
  cmd->add_option("RUN_ID", options->run, "the run to drop")->check(run_id_number());
  cmd->add_flag("--all", options->all, "drop every run and pgblit's catalog tables (and the schema, if pgblit made it)");
  cmd->add_option("--target", options->target, "target server (default: $TARGET_DATABASE_URL)");
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  add_yes_flag(*cmd, *yes);
  cmd->add_flag("--restore-objects", options->restore_objects,
                "first rebuild the indexes and constraints the run dropped and has not rebuilt yet");
  cmd->add_flag("--force", options->force,
                "drop the run even though indexes or constraints it dropped are not rebuilt (their definitions go to "
                "the log, then are lost)");
  return [options, yes] { return run_clean(*options, *yes); };
}

}  // namespace pgblit::cli
