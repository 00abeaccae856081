// See chunk_scheduler.hpp.
#include "mover/chunk_scheduler.hpp"

#include <algorithm>
#include <set>

namespace pgblit::mover {

ChunkScheduler::ChunkScheduler(const plan::Plan& plan, bool follow_dependencies)
    : plan_(plan),
      chunks_left_(plan.tables.size()),
      tables_waited_for_(plan.tables.size()),
      dependents_(plan.tables.size()),
      chunks_of_(plan.tables.size()) {
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    ++chunks_left_[plan.chunks[c].table];
    chunks_of_[plan.chunks[c].table].push_back(c);
  }
  for (size_t t = 0; t < plan.tables.size() && follow_dependencies; ++t) {
    std::set<size_t> deps(plan.tables[t].depends_on.begin(), plan.tables[t].depends_on.end());
    deps.erase(t);
    tables_waited_for_[t] = deps.size();
    for (size_t d : deps) dependents_[d].push_back(t);
  }
}

std::vector<size_t> ChunkScheduler::initially_ready() const {
  std::vector<size_t> ready;
  for (size_t t = 0; t < plan_.tables.size(); ++t) {
    if (tables_waited_for_[t] == 0) ready.insert(ready.end(), chunks_of_[t].begin(), chunks_of_[t].end());
  }
  return ready;
}

std::vector<size_t> ChunkScheduler::finished(size_t chunk) {
  std::vector<size_t> ready;
  size_t table = plan_.chunks[chunk].table;
  if (--chunks_left_[table] != 0) return ready;
  for (size_t dependent : dependents_[table]) {
    if (--tables_waited_for_[dependent] == 0) {
      ready.insert(ready.end(), chunks_of_[dependent].begin(), chunks_of_[dependent].end());
    }
  }
  return ready;
}

}  // namespace pgblit::mover
