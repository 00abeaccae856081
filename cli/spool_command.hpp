// The spool's commands: `pgblit backup` (a spool from the source alone), `pgblit restore` (a spool into a target) and `pgblit spool ls|prune`
// (the spools in a folder; removing the expired ones), `pgblit rollback` (a run undone with them). `copy --spool` writes spools.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace pgblit::cli {

std::function<int()> add_backup_command(CLI::App& app);
std::function<int()> add_restore_command(CLI::App& app);
std::function<int()> add_spool_command(CLI::App& app);
std::function<int()> add_rollback_command(CLI::App& app);

}  // namespace pgblit::cli
