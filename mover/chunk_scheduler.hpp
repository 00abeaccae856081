// Which chunks may start now: a chunk is ready when every table its table depends on (the
// target's foreign keys) is fully loaded. Ready chunks go largest first (longest processing
// time first), so lanes finish close together. Not thread-safe: the graph's serial
// completion node owns it.
#pragma once

#include <cstddef>
#include <vector>

#include "plan/plan.hpp"

namespace pgblit::mover {

class ChunkScheduler {
 public:
  // Without `follow_dependencies` every chunk is ready at once (verification reads only).
  ChunkScheduler(const plan::Plan& plan, bool follow_dependencies = true);

  // Chunks ready before anything has run.
  std::vector<size_t> initially_ready() const;
  // Records a finished chunk; returns the chunks this made ready.
  std::vector<size_t> finished(size_t chunk);
  bool table_done(size_t table) const { return chunks_left_[table] == 0; }

 private:
  const plan::Plan& plan_;
  std::vector<size_t> chunks_left_;              // per table
  std::vector<size_t> tables_waited_for_;        // per table: unfinished tables it depends on
  std::vector<std::vector<size_t>> dependents_;  // per table: tables that depend on it
  std::vector<std::vector<size_t>> chunks_of_;   // per table
};

}  // namespace pgblit::mover
