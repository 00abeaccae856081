// Key choice: the columns a table is split on. The primary key; else a unique btree key
// whose columns are all NOT NULL; else a unique key with nullable columns (rows with a NULL
// in the key then get a chunk of their own). Partial and expression indexes do not count.
// A table with none of these is split by ctid page ranges.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plan/catalog.hpp"

namespace pgblit::plan {

struct TableKey {
  std::string index;                 // the index that makes it unique, e.g. "orders_pkey"
  bool primary = false;
  bool nullable = false;             // some key column allows NULL
  std::vector<std::string> columns;  // in index order
  std::vector<std::string> types;    // SQL type names, for casting bound literals
};

// The best key of each relation that has one.
std::map<Oid, TableKey> read_table_keys(pg::Connection& conn, const std::vector<Oid>& oids);

}  // namespace pgblit::plan
