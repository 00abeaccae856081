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
#include "cli/interrupts.hpp"
#include "mover/deferred_rebuild.hpp"
#include "mover/run_catalog.hpp"
#include "runs/clean_run.hpp"
#include "pg/session.hpp"

namespace pgblit::cli {
namespace {

struct CleanFlags {
  ConnectionFlags connections;
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;
  bool all = false;
  bool yes = false;
  bool restore_objects = false;
  bool force = false;
};

// A run that dropped indexes or constraints still pending: rebuild them first, or (--force)
// give them up, after writing each definition to the log.
void settle_pending_objects(const CleanFlags& flags, mover::RunCatalog& catalog, pg::Connection& target,
                            const std::vector<runs::RunSummary>& runs) {
  pg::Cancellation cancellation;
  if (flags.restore_objects) route_interrupts_to(cancellation);
  for (const auto& r : runs) {
    if (r.objects_pending == 0) continue;
    if (flags.restore_objects) {
      mover::DeferredRebuild rebuild(catalog, r.id, plan::Plan{}, flags.connections.target, 1, cancellation);
      if (rebuild.finish(target) > 0) {
        throw Error(ErrorKind::Runtime, fmt::format("run {}: some indexes or constraints could not be rebuilt; nothing "
                                                    "dropped", r.id),
                    flags.catalog_schema, "the errors above say why: where they name offending rows, fix those on the target (or "
                    "the constraint), then clean again");
      }
    } else if (flags.force) {
      for (const auto& record : catalog.deferred(r.id)) {
        if (record.rebuilt) continue;
        auto o = target::object_from_json(record.definition);
        spdlog::warn("giving up {} (--force); its definition: {}", o.describe(),
                     o.index_definition.empty() ? o.constraint_definition : o.index_definition);
      }
      runs::abandon_objects(catalog, r.id);
    }
  }
}

std::string describe(const runs::RunSummary& r) {
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
  mover::RunCatalog catalog(target, flags.catalog_schema);
  std::optional<int64_t> run = flags.run > 0 ? std::optional(flags.run) : std::nullopt;
  auto runs = runs::runs_to_clean(catalog, run);
  for (const auto& r : runs) {
    if (r.alive) {
      throw usage_error(fmt::format("run {} is in progress: nothing dropped", r.id), flags.catalog_schema,
                        "wait until it ends, or stop it (Ctrl-C) and clean it then");
    }
  }
  if (flags.restore_objects || flags.force) settle_pending_objects(flags, catalog, target, runs);
  std::string what = run ? describe(runs[0])
                         : fmt::format("the whole run catalog {} on {} ({} runs)", flags.catalog_schema,
                                       target.display(), runs.size());
  if (!confirm(fmt::format("About to drop {}. Resuming it will no longer be possible.", what), flags.yes,
               WithoutTerminal::Refuse)) {
    spdlog::info("nothing dropped: not confirmed");
    return exit_code(ErrorKind::Usage);
  }
  auto result = runs::clean_catalog(catalog, run);
  if (run) {
    spdlog::info("dropped {} from the catalog {}", describe(runs[0]), flags.catalog_schema);
    return 0;
  }
  spdlog::info("dropped {} runs and the catalog tables {}", result.runs.size(), fmt::join(result.tables, ", "));
  for (const auto& t : result.not_pgblits) {
    spdlog::warn("kept {}: it has a catalog table's name but pgblit did not create it", t);
  }
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
  cmd->add_flag("--restore-objects", flags->restore_objects,
                "first rebuild the indexes and constraints the run dropped and has not rebuilt yet");
  cmd->add_flag("--force", flags->force,
                "drop the run even though indexes or constraints it dropped are not rebuilt (their definitions go to "
                "the log, then are lost)");
  return [flags] { return run_clean(*flags); };
}

}  // namespace pgblit::cli
