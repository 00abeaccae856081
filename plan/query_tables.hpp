// Target tables filled from a query (the mapping's `queries`, docs/mapping.md): a SELECT over
// source tables where a join is the only honest way to say what the rows are. Each becomes a
// plan table like any other: its result's columns load into the target's columns of their names
// (cast on the source to the target's types), its chunks are ranges of the key the mapping names
// (quantiles of the query's own result) or one chunk, every chunk is read as a subquery in the
// run's one snapshot, and the dry run and verification read it through the same renderer.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mapping/mapping.hpp"
#include "plan/catalog.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::plan {

// What names a query table in messages and in the run catalog where a source table's name goes.
std::string query_label(const std::string& target);

// Appends a table per query to `plan` (and its index to `tables_by_dest`); `targets` are the
// target tables by (schema, name). Problems (a missing table, a column that goes nowhere, a key
// the result lacks, a query that does not run) are added to `problems`.
void add_query_tables(pg::Connection& source, const mapping::Mapping& mapping,
                      const std::map<std::pair<std::string, std::string>, const Relation*>& targets, Plan& plan,
                      std::map<Oid, std::vector<size_t>>& tables_by_dest, std::vector<std::string>& problems);

// The chunks of the query tables among plan.tables[first...]: key ranges of about `chunk_bytes`
// from the query's result (its estimated size from the source's planner), or one chunk.
void cut_query_tables(pg::Connection& source, size_t first, int64_t chunk_bytes, Plan& plan);

}  // namespace pgblit::plan
