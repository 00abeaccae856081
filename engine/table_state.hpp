// What a run left in its target tables and sequences, recorded when it ends, so that
// `pgblit rollback` can tell whether anyone (a later run, the application) wrote to them since:
// it puts back only what is still the run's.
//
// Per table: the row count and the sum (as numeric: no overflow) of a 64-bit hash
// (hashtextextended) of each row's text form, computed by the target server itself. Cheap: one
// sequential scan per table, `jobs` tables at once, nothing sent over the network, no index
// needed. Exact: every type has a text form (the settings that shape it are pinned), so any
// inserted, deleted or changed row changes the count or the sum; and order-independent, so
// VACUUM FULL or CLUSTER, which move rows without changing them, change nothing. (The run's own
// verification digests cover only the chunks it copied when a table held rows before, and
// would need the rows read back through COPY to be compared.)
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::engine {

// {"tables": {"\"s\".\"t\"": {"rows": N, "digest": "..."}}} for `tables` ("schema"."table").
nlohmann::json table_states(const std::string& target, const std::vector<std::string>& tables, int jobs,
                            pg::Cancellation& cancellation);

// Every sequence in the schemas of `tables`: [{"name", "last_value" (null: never used), "start_value"}].
nlohmann::json schema_sequences(pg::Connection& target, const std::vector<std::string>& tables);

// The tables of `before` ({"tables": ...}) whose rows differ in `now`, each with what changed.
std::vector<std::pair<std::string, std::string>> changed_table_states(const nlohmann::json& before,
                                                                      const nlohmann::json& now);

}  // namespace pgblit::engine
