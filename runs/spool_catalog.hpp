// A spool's manifest used on a server: the one place where what a manifest says becomes SQL.
//
// A manifest is a file that travels, so it is untrusted input. Every table it names is looked
// up in the catalog of the server it is used on (its schema and name passed as parameters),
// and the SQL names are rendered from what that catalog holds, quoted; its columns and, where
// its chunks' ranges are read there, its key columns must exist on that server, and the key's
// types are the catalog's. A chunk's rows are rendered from its typed range (bound values as
// quoted literals cast to those types, ctid page numbers that were checked to be numbers):
// nothing of the file reaches the server as SQL text of its own. A table or column the server
// lacks is refused (a usage error naming the manifest field and the object).
#pragma once

#include <set>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"
#include "spool/manifest.hpp"

namespace pgblit::runs {

enum class SpoolSide { Source, Target };

// The manifest's `tables` (indexes into manifest.tables) and their chunks as a plan for
// `side`, in the manifest's order, checked against that side's catalog.
struct SpoolPlan {
  plan::Plan plan;
  std::vector<size_t> table_of;  // plan table -> manifest table
  std::vector<size_t> chunk_of;  // plan chunk -> manifest chunk
  // Plan table: its chunks' predicates select their rows on this side (key ranges, or ctid
  // ranges on the source they were cut on). Otherwise every chunk's predicate is empty.
  std::vector<bool> by_range;
};

SpoolPlan spool_plan(pg::Connection& conn, const spool::Manifest& manifest, const std::set<size_t>& tables,
                     SpoolSide side);

}  // namespace pgblit::runs
