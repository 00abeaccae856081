// `pgblit status` and `pgblit report RUN_ID`: a run read from the run catalog alone, so they
// work from any terminal or host while the run goes on, or long after it ended.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "mover/run_catalog.hpp"

namespace pgblit::runs {

// Where run `run` (default: the latest) stands, as JSON (docs/events.md).
nlohmann::json run_status(mover::RunCatalog& catalog, std::optional<int64_t> run);
// The run's story as the events it would have emitted (run_started, phases, chunks done,
// run_finished), for a report rendered from the catalog alone.
std::vector<nlohmann::json> run_events(mover::RunCatalog& catalog, int64_t run);

}  // namespace pgblit::runs
