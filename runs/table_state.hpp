// What a run left in its target tables, recorded when its rows are all in, so that
// `pgblit rollback` can tell whether anyone (a later run, the application) wrote to them since:
// it puts back only what is still the run's.
//
// Per table: the row count and the sum (as numeric: no overflow) of a 64-bit hash of each row,
// computed by the target server itself. One read of each table, `jobs` tables at once (a
// large one read by the server's own parallel scan), nothing sent over the network, no index needed. Order-independent: VACUUM FULL or
// CLUSTER, which move rows without changing them, change nothing. Exact: any row inserted,
// deleted or changed changes the count or the sum. The row hash (method "record", PostgreSQL
// 14+) is hash_record_extended over the row's columns, each hashed by its type's own hash where
// equal values are identical (integers, text and varchar under a deterministic collation,
// uuid, bytea, dates and timestamps, bool, enums) and by its text form otherwise (numeric keeps
// 1.0 apart from 1.00, float -0 from 0, citext 'A' from 'a'); a third of the cost of hashing
// the whole row's text form (method "text", `hashtextextended(row::text)`), which older
// servers and tables whose types refuse the first use. The settings that shape text forms are
// pinned. (The run's own verification digests cover only the rows it copied when a table held
// rows before, and would need the rows read back through COPY to be compared.)
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::runs {

// {"tables": {"\"s\".\"t\"": {"rows": N, "digest": "...", "method": "record"}}} for `tables`
// ("schema"."table"). With `same_as` (an earlier result), each table is digested by the method
// it was digested with then, so the two compare.
nlohmann::json table_states(const std::string& target, const std::vector<std::string>& tables, int jobs,
                            pg::Cancellation& cancellation, const nlohmann::json& same_as = nullptr);

// Every sequence in the schemas of `tables`: [{"name", "last_value" (null: never used), "start_value"}].
nlohmann::json schema_sequences(pg::Connection& target, const std::vector<std::string>& tables);

// The tables of `before` ({"tables": ...}) whose rows differ in `now`, each with what changed.
std::vector<std::pair<std::string, std::string>> changed_table_states(const nlohmann::json& before,
                                                                      const nlohmann::json& now);

}  // namespace pgblit::runs
