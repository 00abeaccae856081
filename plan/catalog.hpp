// Catalog introspection: what tables, columns and foreign keys each server has.
//
// Everything is read in a few bulk queries (never one per table), so a schema of ten
// thousand tables is read in seconds. On the source these run inside the run's snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::plan {

using Oid = int64_t;

struct Column {
  std::string name;
  std::string type;          // schema-qualified type name, e.g. "pg_catalog.int4"
  std::string display_type;  // with its modifier, e.g. "numeric(14,2)"
  char category = 'U';       // pg_type.typcategory: N numeric, S string, D datetime, ...
  bool not_null = false;
  bool has_default = false;
  bool identity = false;
  bool generated = false;
  int padded_chars = 0;      // char(n): the n it pads values to with spaces; 0 for any other type
};

struct Relation {
  Oid oid = 0;
  std::string schema;
  std::string name;
  char kind = 'r';  // 'r' table, 'p' partitioned table
  bool is_partition = false;
  std::string partition_bound;  // "FOR VALUES FROM (1) TO (10)"
  std::string root_schema;      // the top of its partition tree, for a partition
  std::string root_name;
  std::vector<Oid> ancestors;   // partition ancestors, nearest first
  int64_t bytes = 0;            // heap + TOAST
  int64_t heap_pages = 0;       // heap alone, in blocks (ctid ranges split these)
  int64_t estimated_rows = -1;  // -1: never analyzed
  bool stats_fresh = false;     // analyzed, and under 10% of rows modified since
  std::vector<Column> columns;

  std::string qualified() const;
  std::string qualified_root() const;
  const Column* column(const std::string& column_name) const;
};

// Every user table (ordinary or partitioned) on a server, without system, temporary and
// extension-owned tables and without pgblit's own catalog schema.
std::vector<Relation> read_user_tables(pg::Connection& conn);

// The relations of these schema-qualified names that exist on a server.
std::vector<Relation> read_tables_named(pg::Connection& conn,
                                        const std::vector<std::pair<std::string, std::string>>& names);

// For each of these names that exists as a relation that is not a table (a view, a
// materialized view, a foreign table, a sequence...), what it is: ("public", "t") -> "a view".
std::map<std::pair<std::string, std::string>, std::string> read_non_tables_named(
    pg::Connection& conn, const std::vector<std::pair<std::string, std::string>>& names);

// Fills `columns` of every relation: live (not dropped) columns in attnum order.
void read_columns(pg::Connection& conn, std::vector<Relation>& relations);

// Relations whose binary COPY form embeds type OIDs that are not built in (arrays or
// composites of user-defined types): such rows cannot be read by another cluster in binary.
std::vector<Oid> read_tables_embedding_type_oids(pg::Connection& conn, const std::vector<Oid>& oids);

// Foreign keys between the given target relations, as (referencing, referenced) pairs of
// those relations, self-references included; a key on a partition counts for the
// partitioned table it belongs to.
std::vector<std::pair<Oid, Oid>> read_foreign_keys_between(pg::Connection& conn, const std::vector<Oid>& oids);

// Whether each (relation, columns) pair has a valid btree index whose leading columns are
// exactly those columns (in order), so a key range can be read without a full scan.
std::vector<bool> read_key_indexed(pg::Connection& conn, const std::vector<std::pair<Oid, std::vector<std::string>>>& keys);

// Which of these (relation, columns) pairs the connected role may not read: no SELECT on
// the table, nor on every one of the columns. Returns their indexes.
std::vector<size_t> read_unreadable(pg::Connection& conn, const std::vector<std::pair<Oid, std::vector<std::string>>>& reads);

// Which of these relations row-level security would filter for the connected role: RLS is
// enabled, and the role is neither superuser nor BYPASSRLS nor (without FORCE) the owner.
// Such a role sees a subset of the rows; pgblit's source sessions run with row_security = off,
// so the server refuses such a read rather than return that subset. Returns their indexes.
std::vector<size_t> read_row_security_filtered(pg::Connection& conn, const std::vector<Oid>& relations);

std::string oid_array_literal(const std::vector<Oid>& oids);

}  // namespace pgblit::plan
