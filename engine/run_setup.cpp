// See run_setup.hpp.
#include "engine/run_setup.hpp"

#include <spdlog/spdlog.h>

#include "engine/session.hpp"

namespace pgblit::engine {

RunSetup open_run(const std::string& source, const std::string& target, const partitioner::PlanOptions& options) {
  RunSetup setup;
  setup.coordinator = std::make_unique<pg::Connection>(open_session(source, "source"));
  setup.target = std::make_unique<pg::Connection>(open_session(target, "target"));
  setup.snapshot_id = Snapshot(*setup.coordinator).id();
  spdlog::info("source {} (snapshot {}), target {}", setup.coordinator->display(), setup.snapshot_id,
               setup.target->display());
  setup.plan = partitioner::build_plan(*setup.coordinator, *setup.target, options);
  for (const auto& w : setup.plan.warnings) spdlog::warn("{}", w);
  for (const auto& t : setup.plan.tables) {
    if (t.format == partitioner::CopyFormat::Text) spdlog::info("{} goes as text: {}", t.source, t.text_reason);
  }
  return setup;
}

}  // namespace pgblit::engine
