// See follow_commands.hpp.
#include "cli/follow_commands.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "cli/common_flags.hpp"
#include "cli/interrupts.hpp"
#include "core/defaults.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "runs/follow_run.hpp"

namespace pgblit::cli {

std::function<int()> add_cutover_command(CLI::App& app) {
  auto options = std::make_shared<runs::CutoverOptions>();
  auto* cmd = app.add_subcommand("cutover", "finish a copy --follow: fence the source, wait until the target applied "
                                            "everything, check, set sequences, drop subscription, slot and publication");
  cmd->add_option("RUN_ID", options->run, "the following run")->required()->check(run_id_number());
  add_connection_flags(*cmd, options->source, options->target);
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  cmd->add_option("--check", options->check,
                  "what is compared once caught up: changes (the digests of the rows changed since the copy's "
                  "snapshot, source against target; the default), counts (row counts of every table: a full scan "
                  "of each) or full (digests of every row, as pgblit verify)")
      ->check(CLI::IsMember({"changes", "counts", "full"}));
  cmd->add_option("--catch-up-timeout", options->timeout,
                  "seconds to wait for the target to apply the source's changes up to the fence (default: 600)")
      ->check(CLI::Range(1.0, 86400.0));
  add_jobs_flag(*cmd, options->jobs, "connections for --check full");
  cmd->add_option("--fence-revoke", options->fence_revoke, "also revoke CONNECT on the source database from this role "
                                                           "(repeatable)");
  cmd->add_option("--run-dir", options->run_dir, "folder of run folders: cutover.json goes into RUN_ID/ there");
  return [options] {
    require_connections(options->source, options->target);
    pg::Cancellation cancellation;
    route_interrupts_to(cancellation);
    auto result = runs::cutover(*options, cancellation);
    fmt::print("cut over run {}: downtime {:.2f} s (fence to target ready), {} tables checked ({}{}), {} sequences "
               "set\n",
               options->run, result.downtime_seconds, result.tables_checked, result.check,
               result.check == "changes" ? fmt::format(": {} changed rows", result.rows_compared) : "",
               result.sequences);
    return 0;
  };
}

std::function<int()> add_unfollow_command(CLI::App& app) {
  auto options = std::make_shared<runs::UnfollowOptions>();
  auto* cmd = app.add_subcommand("unfollow", "stop following without cutting over: drop the run's subscription "
                                             "(target), replication slot and publication (source)");
  cmd->add_option("RUN_ID", options->run, "the run")->check(run_id_number());
  cmd->add_flag("--all", options->all, "every run of the catalog that still follows");
  add_connection_flags(*cmd, options->source, options->target);
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  return [options] {
    if ((options->run > 0) == options->all) {
      throw usage_error("give a RUN_ID or --all (one of them): nothing was done", "unfollow",
                        "pgblit status lists the runs");
    }
    require_connections(options->source, options->target);
    auto runs = runs::unfollow(*options);
    fmt::print("{}\n", runs.empty() ? std::string("nothing follows: no slot, publication or subscription to drop")
                                    : fmt::format("unfollowed {} run{}", runs.size(), runs.size() == 1 ? "" : "s"));
    return 0;
  };
}

bool report_follow_findings(const std::vector<source::FollowFinding>& findings, nlohmann::json* json) {
  bool go = true;
  for (const auto& f : findings) {
    go = go && !f.error;
    if (json) {
      json->push_back({{"severity", f.error ? "error" : "warning"}, {"what", f.what}, {"fix", f.fix}});
    } else {
      fmt::print("{} (--follow): {}\n  fix: {}\n", f.error ? "error" : "warning", f.what, f.fix);
    }
  }
  if (!json) fmt::print("--follow: {}\n", go ? "the source and target can follow" : "cannot follow (fix the errors above)");
  return go;
}

void print_follow_status(const nlohmann::json& f) {
  fmt::print("  follow: {} (slot {}, publication {}, subscription {}, from {})\n", f.value("state", ""),
             printable(f.value("slot", "")), printable(f.value("publication", "")),
             printable(f.value("subscription", "")), f.value("snapshot_lsn", ""));
  if (f.value("state", "") != "following" && f.value("state", "") != "cutover") return;
  std::string seconds = f["lag_seconds"].is_number() ? fmt::format("{:.1f} s", f["lag_seconds"].get<double>()) : "unknown";
  std::string bytes = f.contains("lag_bytes") ? human_bytes(f["lag_bytes"].get<double>())
                                              : "unknown (give --source to read the slot)";
  fmt::print("  lag: {} behind, {}; apply worker {}\n", bytes, seconds,
             f.value("apply_worker_running", false) ? "running" : "NOT running (see the target's log)");
  if (f.contains("slot_retained_bytes")) {
    fmt::print("  the slot holds {} of WAL on the source: cut over or unfollow, or it grows until the disk is full\n",
               human_bytes(f["slot_retained_bytes"].get<double>()));
  }
  if (f.value("slot_exists", true) == false) fmt::print("  the slot is GONE from the source: pgblit unfollow, then copy again\n");
}

}  // namespace pgblit::cli
