// Values the target changes as it stores them: a column whose modifier the source value lacks
// (numeric scale, fractional seconds) is read on the source as the target stores it
// (plan::Rescale), so a mere rescale (37.1 -> 37.10, the same number) verifies clean.
// A value the cast changes (2.675 -> 2.68 in numeric(14,2)) is a difference all the same: the
// target does not hold what the source held. They are counted here, on the source, per column.
#pragma once

#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::verify {

struct ChangedValues {
  std::string table;   // the target table
  std::string column;
  std::string type;    // the target's, e.g. numeric(14,2)
  int64_t count = 0;
  std::string example;  // one source value and what the target stores: "2.675 -> 2.68"

  std::string describe() const;
};

// `source`: inside the run's snapshot where there is one (the rows the copy read).
std::vector<ChangedValues> values_changed_by_target(pg::Connection& source, const plan::Plan& plan);

}  // namespace pgblit::verify
