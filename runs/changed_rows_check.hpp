// The cutover's default check (`--check changes`): the rows changed on the source since the
// copy's snapshot, and only those, compared source against target by digest once the source is
// fenced and the target has applied everything up to the fence.
//
// Why that is enough: the copy verified every chunk against the snapshot (the target held
// exactly the snapshot's rows), and every row the source changed since is named by its key in
// the key slot (changed_keys.hpp), deletes included: a key deleted on the source must be absent
// on the target, a key inserted or updated must carry the same row. A row no change touched is
// the copy's verified row on both sides. Tables without usable keys (a TRUNCATE, replica
// identity FULL) are compared whole: row count and an order-free digest of all rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan/plan.hpp"
#include "pg/connection.hpp"
#include "source/changed_keys.hpp"

namespace pgblit::runs {

// <catalog>.follow_changes on the target: each changed row's key by run and table; the key {}
// marks a table compared whole.
void create_changed_keys_table(pg::Connection& target, const std::string& catalog);
void store_changed_keys(pg::Connection& target, const std::string& catalog, int64_t run,
                        const source::ChangedKeys& keys);
void forget_changed_keys(pg::Connection& target, const std::string& catalog, int64_t run);

struct ChangedRowsCheck {
  size_t tables = 0;        // tables with changes compared
  size_t whole_tables = 0;  // of them, compared whole
  int64_t rows = 0;         // changed keys compared
  std::vector<std::string> differences;  // "table: key (...): what differs", a few per table
};

// Source and target must not change meanwhile (the source fenced, the target caught up).
ChangedRowsCheck check_changed_rows(pg::Connection& source, pg::Connection& target, const std::string& catalog,
                                    int64_t run, const plan::Plan& plan);

}  // namespace pgblit::runs
