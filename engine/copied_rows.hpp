// A target table that held rows before the copy (an append, a tenant merged beside another) is
// compared on the rows the copy wrote: the target rows whose keys the copied source rows have.
// Those keys, as the target holds them (renamed, remapped by new_keys), are read from the
// source in the run's snapshot into a temporary table of the target session, and the target
// side is read through it. A copied row changed or deleted since is found; a row added on the
// target since under a key of its own is another tenant's as far as this can tell.
#pragma once

#include <string>

#include "partitioner/plan.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"
#include "verify/ledger.hpp"

namespace pgblit::engine {

// Loads, for every table the ledger compares on its copied rows, the copied keys into a
// temporary table on `target` (which must do the target side's reads afterwards) and hands
// the ledger the condition that selects those rows.
void load_copied_keys(verify::Ledger& ledger, pg::Connection& source, pg::Connection& target,
                      pg::Cancellation& cancellation);

}  // namespace pgblit::engine
