// Merging (new_keys): the moved rows of a table take keys that cannot collide with the target's,
// and every column in the run that holds such a key (a foreign key on the source, or a column
// the mapping declares with `references`, arrays of keys too) is rewritten through the same rule.
#pragma once

#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "plan/catalog.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::plan {

// `sources` and `destinations` lie beside plan.tables. Problems (a merge it cannot do) are added
// to `problems`; columns that look like references and are not rewritten to plan.warnings.
void apply_new_keys(pg::Connection& source, pg::Connection& target, const mapping::Mapping& mapping,
                    const std::vector<const Relation*>& sources, const std::vector<const Relation*>& destinations,
                    Plan& plan, std::vector<std::string>& problems);

}  // namespace pgblit::plan
