// See status_command.hpp.
#include "cli/status_command.hpp"
#include "cli/follow_commands.hpp"

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/common_flags.hpp"
#include "core/events.hpp"
#include "report/hooks.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "runs/status_run.hpp"

namespace pgblit::cli {
namespace {

void print(const nlohmann::json& s) {
  bool running = s["status"] == "running";
  std::string state = running && !s["alive"].get<bool>() ? "running, but no process works on it (dead: resume it)"
                                                          : s["status"].get<std::string>();
  if (s.contains("exit_code") && s["exit_code"].is_number()) state += fmt::format(" (exit code {})", s["exit_code"].get<int>());
  fmt::print("run {}: {}, started {}, {} elapsed\n", s["run_id"].get<int64_t>(), state,
             s["started_at"].get<std::string>(), human_duration(s["seconds"].get<double>()));
  int64_t chunks = s["chunks"], done = s["chunks_done"], failed = s["chunks_failed"];
  int64_t busy = 0;
  for (const auto& l : s["lanes"]) busy += !l["chunk"].is_null() && l["alive"].get<bool>();
  fmt::print("chunks: {} done, {} running, {} pending, {} failed, of {}\n", done, busy, chunks - done - busy, failed,
             chunks);
  fmt::print("rows {}, {} copied ({}), {} remaining{}\n", s["rows"].get<int64_t>(), human_bytes(s["bytes"].get<double>()),
             human_rate(s["bytes_per_second"].get<double>(), 1),
             human_bytes(s["estimated_bytes"].get<double>() - s["estimated_bytes_done"].get<double>()),
             running && s["eta_seconds"].get<double>() > 0 ? ", ETA " + human_duration(s["eta_seconds"].get<double>()) : "");
  for (const auto& l : s["lanes"]) {
    // Lanes matter while the run is meant to be running: busy ones, and those of dead workers.
    if (!running || (l["chunk"].is_null() && l["alive"].get<bool>())) continue;
    fmt::print("  {} lane {}: {}{}\n", l["worker"].get<std::string>(), l["lane"].get<int>(),
               l["chunk"].is_null() ? std::string("idle") : fmt::format("chunk {} since {}", l["chunk"].get<int64_t>(), l["since"].get<std::string>()),
               l["alive"].get<bool>() ? "" : " (worker dead)");
  }
  if (!s["objects"].empty()) {
    fmt::print("deferred indexes and constraints:");
    for (const auto& [status, n] : s["objects"].items()) fmt::print(" {} {}", n.get<int64_t>(), status);
    fmt::print("\n");
  }
  for (const auto& d : s["dropped_on_target"]) {
    std::vector<std::string> tables;
    for (const auto& t : d["tables"]) tables.push_back(t.get<std::string>());
    fmt::print("dropped on the target and not rebuilt: {} indexes and constraints of {} by run {} (catalog {}); {}\n",
               d["objects"].size(), printable(fmt::format("{}", fmt::join(tables, ", "))), d["run_id"].get<int64_t>(),
               printable(d["catalog"].get<std::string>()), printable(d["to_finish"].get<std::string>()));
  }
  for (const auto& e : s["errors"]) {
    fmt::print("  chunk {} of {} failed ({} attempts): {}\n", e["chunk"].get<int64_t>(),
               printable(e["table"].get<std::string>()), e["attempts"].get<int64_t>(),
               printable(e["error"].get<std::string>()));
  }
}

int run_status(runs::StatusOptions& options, bool json) {
  require_target(options.target);
  Events events;
  if (!options.on_event.empty()) events.subscribe(std::make_shared<report::Hooks>(options.on_event, options.on_event_timeout));
  bool first = true;
  runs::show_status(options, events, [&](const nlohmann::json& status) {
    if (json) {
      std::cout << status.dump() << std::endl;
      return;
    }
    if (!first) fmt::print("\n");  // between --watch refreshes
    first = false;
    print(status);
    if (status.contains("follow")) print_follow_status(status["follow"]);
  });
  return 0;
}

}  // namespace

std::function<int()> add_status_command(CLI::App& app) {
  auto options = std::make_shared<runs::StatusOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("status", "show where a run stands (default: the latest), from the target's run "
                                           "catalog, from any host");
  cmd->add_option("RUN_ID", options->run, "the run to show")->check(run_id_number());
  cmd->add_option("--target", options->target, "target server (default: $TARGET_DATABASE_URL)");
  cmd->add_option("--source", options->source,
                  "source server, to read a following run's lag in bytes from its slot (optional)");
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  cmd->add_flag("--watch", options->watch, "show it again every --interval seconds until the run ends");
  cmd->add_option("--interval", options->interval, "seconds between --watch refreshes (default: 2)")
      ->check(CLI::Range(0.2, 3600.0));
  cmd->add_flag("--json", *json, "print it as JSON (one object a line with --watch)");
  cmd->add_option("--on-event", options->on_event,
                  "for a following run, run this shell command at every refresh with the follow_lag event as JSON "
                  "on its standard input (PGBLIT_EVENT, PGBLIT_RUN_ID set); with --watch, a periodic lag report");
  cmd->add_option("--on-event-timeout", options->on_event_timeout,
                  "seconds a hook may run before it is stopped (default: 30)")
      ->check(CLI::Range(0.1, 3600.0));
  return [options, json] { return run_status(*options, *json); };
}

}  // namespace pgblit::cli
