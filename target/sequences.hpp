// After the data: every sequence of the copied schemas gets the source's value on the target,
// so the first INSERT after the move does not collide with a copied key. Sequences owned by
// a column (serial, identity) are found on the target through their column, whatever their
// name there; free sequences by name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

struct SequenceReset {
  int set = 0;
  std::vector<std::string> missing;  // source sequences with no counterpart on the target
};

// `source` must be the coordinator, inside the run's snapshot. With `forward_only` (a run
// continued in a later process, when the target may already be in use) a target sequence is
// only ever moved forward, never back below a value it has handed out. `renamed` maps a source
// table (as the plan names it) to the target table a mapping loads it into: the sequences its
// columns own are that table's columns' sequences there.
SequenceReset reset_sequences(pg::Connection& source, pg::Connection& target, const std::vector<std::string>& schemas,
                              bool forward_only = false, const std::map<std::string, std::string>& renamed = {});

}  // namespace pgblit::target
