// A target table that held rows before the copy (an append, a tenant merged beside another) is
// compared on the rows the copy wrote: the target rows whose keys the copied source rows have.
// Those keys, as the target holds them (renamed, remapped by new_keys), are read from the
// source in the run's snapshot into a temporary table of the target session, and the target
// side is read through it. A copied row changed or deleted since is found; a row added on the
// target since under a key of its own is another tenant's as far as this can tell. Rows the
// copy set aside (--max-rejects) were not written: their keys are left out, read from the
// rejects files, or a row already there under such a key (an existing key) would be compared
// with the source row the target refused.
#pragma once

#include <filesystem>
#include <string>

#include "plan/plan.hpp"
#include "pg/cancellation.hpp"
#include "pg/connection.hpp"
#include "verify/ledger.hpp"

namespace pgblit::runs {

// Loads, for every table the ledger compares on its copied rows, the copied keys into a
// temporary table on `target` (which must do the target side's reads afterwards) and hands
// the ledger the condition that selects those rows. `rejects_dir`: where the run's rejects
// files are ("": none were written).
void load_copied_keys(verify::Ledger& ledger, pg::Connection& source, pg::Connection& target,
                      pg::Cancellation& cancellation, const std::filesystem::path& rejects_dir = {});

}  // namespace pgblit::runs
