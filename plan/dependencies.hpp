// Load order: a table referenced by a foreign key on the target must be fully loaded before
// the tables that reference it start, or their rows would fail the key check.
#pragma once

#include <cstddef>
#include <vector>

namespace pgblit::plan {

// With depends_on[i] the tables i waits for, returns a cycle (i, j, ..., i) if there is one,
// or an empty vector when every table can be ordered.
std::vector<size_t> find_dependency_cycle(const std::vector<std::vector<size_t>>& depends_on);

}  // namespace pgblit::plan
