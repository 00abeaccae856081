// See spool_command.hpp.
#include "cli/spool_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "cli/common_flags.hpp"
#include "cli/interrupts.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "runs/backup_run.hpp"
#include "runs/restore_run.hpp"
#include "runs/rollback_run.hpp"
#include "cli/confirmation.hpp"
#include "spool/spool_folder.hpp"

namespace pgblit::cli {
namespace {

// What only the command line has beside runs::BackupOptions: the mapping file's path and
// the expiry as written.
struct BackupCommand {
  runs::BackupOptions options;
  std::string keep;     // --keep DURATION, read when the backup starts
  std::string mapping;  // --mapping FILE: its row selection only
};

int run_backup(BackupCommand& command) {
  auto& options = command.options;
  require_source(options.source);
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  std::optional<mapping::Mapping> mapping;
  if (!command.mapping.empty()) mapping = mapping::load_mapping(command.mapping);
  options.mapping = mapping ? &*mapping : nullptr;
  if (!command.keep.empty()) options.keep_seconds = spool::parse_duration(command.keep);
  auto s = runs::backup(options, cancellation);
  spdlog::info("done: backed up {} tables ({} rows, {} of COPY streams in {} compressed) in {} chunks to {} in "
               "{:.2f} s; the schema is in its schema.dump",
               s.tables, s.rows, human_bytes(static_cast<double>(s.raw_bytes)),
               human_bytes(static_cast<double>(s.compressed_bytes)), s.chunks, options.spool_dir, s.seconds);
  return 0;
}

struct RestoreCommand {
  runs::RestoreOptions options;
  bool yes = false;
};

int run_restore(RestoreCommand& command) {
  auto& options = command.options;
  require_target(options.target);
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  // As copy: emptying tables that hold rows is shown first and needs a yes (--yes without a terminal).
  options.confirm = [yes = command.yes](const std::string& what) { return confirm(what, yes, WithoutTerminal::Refuse); };
  auto s = runs::restore(options, cancellation);
  spdlog::info("done: restored {} chunks of {} tables ({} rows, {}) from {} in {:.2f} s{}; every chunk's rows matched "
               "its manifest digest",
               s.chunks, s.tables, s.rows, human_bytes(static_cast<double>(s.bytes)), options.spool_dir, s.seconds,
               s.chunks_before ? fmt::format(" ({} were in already)", s.chunks_before) : "");
  return 0;
}

struct RollbackCommand {
  runs::RollbackOptions options;
  bool yes = false;
};

int run_rollback(RollbackCommand& command) {
  const auto& options = command.options;
  require_target(command.options.target);
  if (!confirm(runs::describe_rollback(options), command.yes, WithoutTerminal::Refuse)) return exit_code(ErrorKind::Usage);
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  auto s = runs::rollback(options, cancellation);
  spdlog::info("rolled back run {}: {} tables emptied, {} of them reloaded from the backup ({} rows), {} sequences "
               "set back",
               options.run_id, s.emptied, s.reloaded, s.rows_reloaded, s.sequences);
  return 0;
}

void print_spools(const std::vector<spool::SpoolEntry>& spools) {
  fmt::print("{:<40} {:<10} {:>10} {:>10} {:>7} {:>12}  {}\n", "spool", "status", "size", "age", "tables", "rows",
             "expires");
  for (const auto& s : spools) {
    fmt::print("{:<40} {:<10} {:>10} {:>10} {:>7} {:>12}  {}\n", printable(s.folder.string()), s.status,
               human_bytes(static_cast<double>(s.bytes)), human_duration(s.age_seconds), s.tables, s.rows,
               s.expires_at.empty() ? "never" : s.expires_at);
    if (!s.problem.empty()) fmt::print("  {}\n", printable(s.problem));
  }
}

}  // namespace

std::function<int()> add_backup_command(CLI::App& app) {
  auto backup = std::make_shared<BackupCommand>();
  auto& options = backup->options;
  auto* cmd = app.add_subcommand("backup", "write the selected tables to a spool without a target: one snapshot, "
                                           "chunks in parallel, digests, and the schema beside them");
  cmd->add_option("--source", options.source,
                  "source server: libpq URI or key=value string (default: $SOURCE_DATABASE_URL)");
  cmd->add_option("--spool", options.spool_dir, "the spool folder to create (must not hold a spool)")->required();
  add_selection_flags(*cmd, options.selection);
  add_chunk_size_flag(*cmd, options.chunk_bytes);
  add_jobs_flag(*cmd, options.jobs, "chunks read and compressed at once, each on a source connection of its own");
  add_spool_level_flag(*cmd, options.level, "zstd level (default: 3)");
  cmd->add_option("--keep", backup->keep, "the spool expires after this long (90d, 12h, 30m; default: never)");
  cmd->add_flag("--resume", options.resume,
                "complete the interrupted backup in --spool: finished chunk files are kept, the rest read anew");
  cmd->add_option("--mapping", backup->mapping,
                  "a mapping file's row selection only (skip, where, scope: one tenant's rows); docs/mapping.md")
      ->check(CLI::ExistingFile);
  return [backup] { return run_backup(*backup); };
}

std::function<int()> add_restore_command(CLI::App& app) {
  auto restore = std::make_shared<RestoreCommand>();
  auto& options = restore->options;
  auto* cmd = app.add_subcommand("restore", "load a spool (copy --spool) into a target, chunks in parallel, each "
                                            "checked against its manifest digest; run again to resume");
  cmd->add_option("--spool", options.spool_dir, "the spool folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--target", options.target,
                  "target server: libpq URI or key=value string (default: $TARGET_DATABASE_URL)");
  cmd->add_option("-t,--table", options.tables, "restore only this target table, [schema.]table (repeatable)");
  add_jobs_flag(*cmd, options.jobs, "chunks loaded at once, each on a target connection of its own");
  add_choice<bool>(*cmd, "--on-existing", options.truncate, {{"error", false}, {"truncate", true}},
                   "target tables that hold rows: error (default) or truncate (emptied first; never on a resume)");
  add_no_analyze_flag(*cmd, options.analyze, "do not ANALYZE the restored tables");
  cmd->add_option("--retry-timeout", options.retry_timeout,
                  "seconds a chunk or a rebuild keeps retrying after a lost connection or server restart (default: "
                  "300)")
      ->check(CLI::NonNegativeNumber);
  add_yes_flag(*cmd, restore->yes);
  add_catalog_schema_flag(*cmd, options.catalog_schema);
  return [restore] { return run_restore(*restore); };
}

std::function<int()> add_rollback_command(CLI::App& app) {
  auto rollback = std::make_shared<RollbackCommand>();
  auto& options = rollback->options;
  auto* cmd = app.add_subcommand("rollback", "put the target back as it was before a copy run: tables that were "
                                             "empty emptied, tables that held rows reloaded from the run's "
                                             "--backup-target spool, sequences set back; refused when they changed "
                                             "since the run; run again to resume");
  cmd->add_option("run", options.run_id, "the run to roll back")->required()->check(CLI::PositiveNumber);
  cmd->add_option("--target", options.target,
                  "target server: libpq URI or key=value string (default: $TARGET_DATABASE_URL)");
  add_jobs_flag(*cmd, options.jobs, "chunks of the backup reloaded at once");
  add_yes_flag(*cmd, rollback->yes);
  cmd->add_flag("--force", options.force,
                "roll back even tables that changed since the run ended (later runs, the application): their "
                "changes are lost");
  cmd->add_option("--retry-timeout", options.retry_timeout,
                  "seconds the rollback keeps retrying after a lost connection or server restart (default: 300)")
      ->check(CLI::NonNegativeNumber);
  add_catalog_schema_flag(*cmd, options.catalog_schema);
  return [rollback] { return run_rollback(*rollback); };
}

std::function<int()> add_spool_command(CLI::App& app) {
  auto folder = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("spool", "list spools (ls) or remove the expired ones (prune)");
  cmd->require_subcommand(1);
  auto* ls = cmd->add_subcommand("ls", "spools in a folder: size, age, expiry, tables, rows, status "
                                       "(complete, incomplete, expired, damaged)");
  ls->add_option("folder", *folder, "a spool, or a folder holding spools")->required()->check(CLI::ExistingDirectory);
  auto* prune = cmd->add_subcommand("prune", "remove the expired spools in a folder (--keep set their expiry)");
  prune->add_option("folder", *folder, "a spool, or a folder holding spools")->required()->check(CLI::ExistingDirectory);
  prune->add_flag("--dry-run", *dry_run, "only say which spools would be removed");
  return [cmd, prune, folder, dry_run] {
    if (cmd->got_subcommand(prune)) {
      auto pruned = spool::prune_spools(*folder, *dry_run);
      for (const auto& s : pruned.removed) {
        fmt::print("{} {} (expired {}, {})\n", *dry_run ? "would remove" : "removed", printable(s.folder.string()),
                   s.expires_at, human_bytes(static_cast<double>(s.bytes)));
      }
      for (const auto& s : pruned.skipped) {
        fmt::print("skipped {} (expired {}): {}\n", printable(s.folder.string()), s.expires_at, printable(s.problem));
      }
      if (pruned.removed.empty() && pruned.skipped.empty()) fmt::print("no expired spools in {}\n", printable(*folder));
      return 0;
    }
    print_spools(spool::list_spools(*folder));
    return 0;
  };
}

}  // namespace pgblit::cli
