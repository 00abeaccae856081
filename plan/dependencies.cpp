// See dependencies.hpp.
#include "plan/dependencies.hpp"

#include <algorithm>

namespace pgblit::plan {

std::vector<size_t> find_dependency_cycle(const std::vector<std::vector<size_t>>& depends_on) {
  enum class Mark { New, Open, Done };
  std::vector<Mark> mark(depends_on.size(), Mark::New);
  std::vector<size_t> path;
  // Iterative depth-first search; a dependency found Open closes a cycle along `path`.
  for (size_t start = 0; start < depends_on.size(); ++start) {
    if (mark[start] != Mark::New) continue;
    std::vector<std::pair<size_t, size_t>> stack{{start, 0}};
    mark[start] = Mark::Open;
    path = {start};
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == depends_on[node].size()) {
        mark[node] = Mark::Done;
        stack.pop_back();
        path.pop_back();
        continue;
      }
      size_t dep = depends_on[node][next++];
      if (mark[dep] == Mark::Open) {
        std::vector<size_t> cycle(std::find(path.begin(), path.end(), dep), path.end());
        cycle.push_back(dep);
        return cycle;
      }
      if (mark[dep] == Mark::New) {
        mark[dep] = Mark::Open;
        path.push_back(dep);
        stack.emplace_back(dep, 0);
      }
    }
  }
  return {};
}

}  // namespace pgblit::plan
