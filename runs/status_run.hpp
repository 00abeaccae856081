// `pgblit status` and `pgblit report RUN_ID`: a run read from the run catalog alone, so they
// work from any terminal or host while the run goes on, or long after it ended.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/defaults.hpp"
#include "core/events.hpp"
#include "mover/run_catalog.hpp"

namespace pgblit::runs {

struct StatusOptions {
  std::string target;  // connection strings
  std::string source;  // optional: a following run's lag in bytes, from its slot
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;  // 0: the latest
  bool watch = false;  // again every `interval` seconds until the run ends
  double interval = 2;
  std::string on_event;  // the follow_lag hook's command; the caller subscribes it
  double on_event_timeout = 30;  // seconds
};

// `pgblit status`: run_status, plus every index and constraint any run left dropped on this
// target (dropped_on_target) and a following run's lag (follow, and a follow_lag event on
// `events`), handed to `show`; with `watch`, again after every interval while the run is
// running, following or cutting over.
void show_status(const StatusOptions& options, Events& events, const std::function<void(const nlohmann::json&)>& show);

// Where run `run` (default: the latest) stands, as JSON (docs/events.md).
nlohmann::json run_status(mover::RunCatalog& catalog, std::optional<int64_t> run);
// The run's story as the events it would have emitted (run_started, phases, chunks done,
// run_finished), for a report rendered from the catalog alone.
std::vector<nlohmann::json> run_events(mover::RunCatalog& catalog, int64_t run);

}  // namespace pgblit::runs
