// What `pgblit rollback` checks before it changes anything (check before you change): the
// backup it will reload from, read through whole; the privileges every later step needs; and
// the runs that wrote to the same tables after the run rolled back.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pg/cancellation.hpp"
#include "pg/connection.hpp"

namespace pgblit::runs {

// The backup spool at `dir` holds every one of `tables` and is whole: its folder and complete
// manifest exist and every chunk file of those tables is there, decompresses and digests
// exactly as the manifest says (`jobs` files at once). Throws a usage error naming the first
// problem; reads only.
void check_backup(const std::string& dir, const std::vector<std::string>& tables, int64_t run, int jobs,
                  pg::Cancellation& cancellation);

// TRUNCATE on `tables`, INSERT on `reloaded` and ownership of those with indexes or
// constraints (the reload drops and rebuilds them), UPDATE on `sequences`. Throws a usage error
// listing every one missing.
void require_rollback_privileges(pg::Connection& target, const std::vector<std::string>& tables,
                                 const std::vector<std::string>& reloaded, const std::vector<std::string>& sequences);

// Per table of `tables`: the runs after `run` whose plan includes it ("run 2 (done)"), other
// than runs rolled back and the reloads of rollbacks.
std::map<std::string, std::vector<std::string>> later_runs(pg::Connection& target, const std::string& catalog_schema,
                                                           int64_t run, const std::vector<std::string>& tables);

}  // namespace pgblit::runs
