// See clean_command.hpp.
#include "cli/clean_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/common_flags.hpp"
#include "cli/confirmation.hpp"
#include "core/defaults.hpp"
#include "engine/run_catalog.hpp"
#include "pg/session.hpp"

namespace pgblit::cli {
namespace {

struct CleanFlags {
  ConnectionFlags connections;
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;
  bool all = false;
  bool yes = false;
};

std::string describe(const engine::RunSummary& r) {
  return fmt::format("run {} ({}, started {}, {} of {} chunks done)", r.id, r.status, r.started_at, r.chunks_done,
                     r.chunks);
}

int run_clean(CleanFlags& flags) {
  if ((flags.run > 0) == flags.all) {
    throw usage_error("say what to drop: a RUN_ID, or --all for the whole catalog", "",
                      "pgblit clean RUN_ID --target URI, or pgblit clean --all --target URI");
  }
  require_target(flags.connections);
  auto target = pg::open_session(flags.connections.target, "target");
  engine::RunCatalog catalog(target, flags.catalog_schema);
  std::optional<int64_t> run = flags.run > 0 ? std::optional(flags.run) : std::nullopt;
  auto runs = catalog.runs_to_clean(run);
  for (const auto& r : runs) {
    if (r.alive) {
      throw usage_error(fmt::format("run {} is in progress: nothing dropped", r.id), flags.catalog_schema,
                        "wait until it ends, or stop it (Ctrl-C) and clean it then");
    }
  }
  std::string what = run ? describe(runs[0])
                         : fmt::format("the whole run catalog {} on {} ({} runs)", flags.catalog_schema,
                                       target.display(), runs.size());
  if (!confirm(fmt::format("About to drop {}. Resuming it will no longer be possible.", what), flags.yes,
               WithoutTerminal::Refuse)) {
    spdlog::info("nothing dropped: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  auto result = catalog.clean(run);
  if (run) {
    spdlog::info("dropped {} from the catalog {}", describe(runs[0]), flags.catalog_schema);
    return 0;
  }
  spdlog::info("dropped {} runs and the catalog tables {}", result.runs.size(), fmt::join(result.tables, ", "));
  if (result.schema_dropped) {
    spdlog::info("dropped the schema {}, which pgblit had created", flags.catalog_schema);
  } else {
    spdlog::info("kept the schema {}: {}", flags.catalog_schema, result.schema_kept);
  }
  return 0;
}

}  // namespace

std::function<int()> add_clean_command(CLI::App& app) {
  auto flags = std::make_shared<CleanFlags>();
  auto* cmd = app.add_subcommand("clean", "drop one finished or failed run from the run catalog, or (--all) the "
                                          "whole catalog; never anything that is not pgblit's own");
  cmd->add_option("RUN_ID", flags->run, "the run to drop")->check(run_id_number());
  cmd->add_flag("--all", flags->all, "drop every run and pgblit's catalog tables (and the schema, if pgblit made it)");
  cmd->add_option("--target", flags->connections.target, "target server (default: $TARGET_DATABASE_URL)");
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  add_yes_flag(*cmd, flags->yes);
  return [flags] { return run_clean(*flags); };
}

}  // namespace pgblit::cli
