// `copy --create-schema`: for a target where the selected tables do not exist yet, their
// schema is created from the source first, with the installed pg_dump and pg_restore (whose
// version must be at least the source server's; a clear error says which client is needed).
//
// The dump is restored in three parts. Pre-data (schemas, types, enums, domains, sequences,
// tables, defaults, comments) in one transaction before anything else. Indexes and
// constraints (primary keys, unique, exclusion, foreign keys) in one more, at once, so that
// the copy finds a target with its full schema and defers them exactly like a target whose
// migrations ran first: they are dropped, recorded and rebuilt in parallel after the load.
// The rest of post-data (triggers, policies, rules, and their comments) is returned as a
// script the run applies once every table is loaded and every index is back, so triggers
// do not fire on copied rows.
#pragma once

#include <string>
#include <vector>

#include "plan/selection.hpp"

namespace pgblit::target {

struct SchemaCreateOptions {
  std::string source;  // connection strings
  std::string target;
  plan::Selection selection;
  bool no_owner = false;  // pg_restore --no-owner
  bool no_acl = false;    // pg_restore --no-acl
};

// Creates pre-data and the indexes and constraints on the target; returns the rest of
// post-data as SQL to run after the load (empty when there is none). Throws a usage error
// naming the tool and its message when pg_dump or pg_restore fails (nothing is left half
// created: each part is one transaction).
std::string create_schema(const SchemaCreateOptions& options);

// The selected tables' schema (with the extensions, types and sequences they use) as a
// pg_dump custom-format archive at `file`, read in `snapshot_id` so it matches the data beside
// it (`pgblit backup`); `pg_restore -d TARGET FILE` creates it. Throws naming pg_dump's error.
void dump_schema(const std::string& source, const plan::Selection& selection, const std::string& snapshot_id,
                 const std::string& file);

}  // namespace pgblit::target
