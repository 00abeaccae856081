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

// `entries` (each table's mapping entry, or null), `sources` and `destinations` lie beside
// plan.tables. Problems (a merge it cannot do) are added to `problems`; columns that look like
// references and are not rewritten to plan.warnings. A table fed by the same source table as a
// merged one (an entry of its list) carries that table's key as a reference: it follows too.
void apply_new_keys(pg::Connection& source, pg::Connection& target, const std::vector<const mapping::TableMapping*>& entries,
                    const std::vector<const Relation*>& sources, const std::vector<const Relation*>& destinations,
                    Plan& plan, std::vector<std::string>& problems);

}  // namespace pgblit::plan
