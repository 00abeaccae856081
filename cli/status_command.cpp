// See status_command.hpp.
#include "cli/status_command.hpp"
#include "cli/follow_commands.hpp"
#include "runs/follow_run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/common_flags.hpp"
#include "core/events.hpp"
#include "report/hooks.hpp"
#include "core/defaults.hpp"
#include "core/printable.hpp"
#include "core/units.hpp"
#include "mover/run_catalog.hpp"
#include "runs/status_run.hpp"
#include "target/target_claims.hpp"
#include "pg/session.hpp"

namespace pgblit::cli {
namespace {

struct StatusFlags {
  ConnectionFlags connections;
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;
  bool watch = false;
  double interval = 2;
  bool json = false;
  std::string on_event;
  double on_event_timeout = 30;
};

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

int run_status(StatusFlags& flags) {
  require_target(flags.connections);
  auto target = pg::open_session(flags.connections.target, "target");
  mover::RunCatalog catalog(target, flags.catalog_schema);
  std::optional<int64_t> run = flags.run > 0 ? std::optional(flags.run) : std::nullopt;
  Events events;
  if (!flags.on_event.empty()) events.subscribe(std::make_shared<report::Hooks>(flags.on_event, flags.on_event_timeout));
  for (;;) {
    auto status = runs::run_status(catalog, run);
    // Whatever the run shown: every index and constraint any run left dropped on this target.
    auto dropped = nlohmann::json::array();
    for (const auto& p : target::pending_objects(target)) {
      dropped.push_back({{"catalog", p.catalog}, {"run_id", p.run}, {"tables", p.tables}, {"objects", p.names},
                         {"to_finish", target::how_to_finish(p)}});
    }
    status["dropped_on_target"] = dropped;
    if (auto follow = runs::follow_status(target, flags.catalog_schema, status["run_id"].get<int64_t>(),
                                            flags.connections.source);
        !follow.is_null()) {
      status["follow"] = follow;
      if (follow["state"] == "following" || follow["state"] == "cutover") {
        runs::emit_follow_lag(events, follow, status["run_id"].get<int64_t>());
      }
    }
    if (flags.json) {
      std::cout << status.dump() << std::endl;
    } else {
      print(status);
      if (status.contains("follow")) print_follow_status(status["follow"]);
    }
    // A following run is watched too: its lag until the cutover.
    if (!flags.watch || (status["status"] != "running" && status["status"] != "following" &&
                         status["status"] != "cutover")) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.interval));
    if (!flags.json) fmt::print("\n");
  }
}

}  // namespace

std::function<int()> add_status_command(CLI::App& app) {
  auto flags = std::make_shared<StatusFlags>();
  auto* cmd = app.add_subcommand("status", "show where a run stands (default: the latest), from the target's run "
                                           "catalog, from any host");
  cmd->add_option("RUN_ID", flags->run, "the run to show")->check(run_id_number());
  cmd->add_option("--target", flags->connections.target, "target server (default: $TARGET_DATABASE_URL)");
  cmd->add_option("--source", flags->connections.source,
                  "source server, to read a following run's lag in bytes from its slot (optional)");
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  cmd->add_flag("--watch", flags->watch, "show it again every --interval seconds until the run ends");
  cmd->add_option("--interval", flags->interval, "seconds between --watch refreshes (default: 2)")
      ->check(CLI::Range(0.2, 3600.0));
  cmd->add_flag("--json", flags->json, "print it as JSON (one object a line with --watch)");
  cmd->add_option("--on-event", flags->on_event,
                  "for a following run, run this shell command at every refresh with the follow_lag event as JSON "
                  "on its standard input (PGBLIT_EVENT, PGBLIT_RUN_ID set); with --watch, a periodic lag report");
  cmd->add_option("--on-event-timeout", flags->on_event_timeout,
                  "seconds a hook may run before it is stopped (default: 30)")
      ->check(CLI::Range(0.1, 3600.0));
  return [flags] { return run_status(*flags); };
}

}  // namespace pgblit::cli
