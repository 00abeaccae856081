// The mapping file (--mapping FILE, YAML, docs/mapping.md): where each source table goes and
// how its rows become the target's. Parsed and checked for shape here (no libpq): an unknown
// key, a wrong type or a bad value is an error naming the file, line and column. What the
// names mean against the two catalogs is checked by the planner.
//
//   version: 1
//   tables:
//     crm.deals:
//       target: crm.opportunities         # else its namesake
//       where: "organization_id = 42"     # rows kept (SQL on the source row)
//       columns:                          # target column: where its value comes from
//         title: {from: name}             # a source column under another name
//         email: {expr: "lower(email)"}   # SQL over the source row
//         policy: {from: policy_type, map: {manufacturer: inverter_manufacturer}, else: keep}
//         contact_ids: {from: contact_ids, references: crm.contacts}   # keys of a merged table
//       drop: [legacy_notes]              # source columns not copied
//       new_keys: sequence                # merging: keys above the target's, FKs follow
//     crm.contacts:                      # several target tables from one source table: a list
//       - {new_keys: sequence}            # contacts itself
//       - target: crm.contact_organizations
//         where: "company_id IS NOT NULL"
//         columns: {contact_id: {from: id}, organization_id: {from: company_id}, is_primary: {expr: "true"}}
//     crm.audit_log: skip
//   scope: {column: organization_id, value: "42"}   # the whole run: one tenant's rows
//   remap: [{columns: [organization_id, org_id], from: "42", to: "7"}]   # its new id, everywhere
//   queries:                              # target tables filled from a SELECT over source tables
//     crm.deal_contacts: {query: "SELECT d.id AS deal_id, c.email FROM crm.deals d JOIN ...", key: [deal_id]}
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgblit::mapping {

struct ColumnMapping {
  std::string from;  // source column ("" with expr)
  std::string expr;  // SQL over the source row
  std::vector<std::pair<std::string, std::string>> values;  // value map, in file order
  std::string otherwise = "keep";  // a value the map lacks: keep, null, error
  // The merged table (schema.table, on the source) whose keys the column holds: a key, or an
  // array of keys, rewritten through that table's new keys ("" : its foreign keys decide).
  std::string references;
  std::string where;               // file:line:col, for messages
};

struct TableMapping {
  std::string source;     // schema.table as written
  std::string target;     // schema.table, or "" for the namesake
  bool skip = false;
  std::string where;      // SQL condition, "" for every row
  std::map<std::string, ColumnMapping> columns;  // by target column
  std::vector<std::string> drop;                 // source columns left out
  // Merges: "sequence" gives the copied rows' integer keys new values above the target's
  // (its key's sequence, or its largest key); "uuid" new uuids derived from the old ones; every
  // foreign key in the run that references them follows. "" keeps the keys.
  std::string new_keys;
  std::string location;   // file:line:col of its entry
  // One of a list of entries for its source table (several target tables from one source):
  // a source column need not go somewhere in each entry, only in one of them.
  bool several = false;
};

// A run-wide tenant scope: rows of tables with `column` equal to `value`, and rows of tables
// without it whose parent (through the source's foreign keys) is kept.
struct Scope {
  std::string column, value;
  std::string location;
};

// A constant remap for tenant moves: in every column of these names, in every table of the run
// (foreign key columns too), the value `from` becomes `to`; a renamed column under its source
// or its target name. A column with an expression or a value map that a remap names is refused.
struct Remap {
  std::vector<std::string> columns;
  std::string from, to;
  std::string location;
};

// A target table filled from a SELECT over source tables (the mapping's `queries`), where a
// join is the only honest way to say what its rows are. Its result's columns load into the
// target's columns of their names.
struct QueryMapping {
  std::string target;  // schema.table on the target
  std::string query;   // the SELECT, one statement
  // Columns of the result that are unique and never NULL: the chunks are ranges of them, and
  // verification names a differing row by them. Empty: the table loads in one chunk.
  std::vector<std::string> key;
  std::string location;  // file:line:col of its entry
};

struct Mapping {
  std::string file;
  std::string digest;  // XXH3 of the file's bytes: a run records it, so `verify --mapping` finds the run it made
  std::vector<TableMapping> tables;
  std::optional<Scope> scope;
  std::vector<Remap> remaps;
  std::vector<QueryMapping> queries;
  bool remaps_column(const std::string& column) const;
  // Throws a usage error naming the first entry that shapes rows for a target (a target name,
  // columns, drops, new keys, a remap): `command` keeps the source's tables and columns and
  // takes only which rows (skip, where, scope).
  void require_row_selection_only(const std::string& command) const;
  // The (first) entry for a source table (schema, name), if any.
  const TableMapping* find(const std::string& schema, const std::string& name) const;
  // Every entry for a source table, in file order: one, or one per target table of a list.
  std::vector<const TableMapping*> entries_of(const std::string& schema, const std::string& name) const;
};

// Throws pgblit::Error (usage) naming file:line:col for any problem in the file.
Mapping load_mapping(const std::string& file);

// A mapping's SQL (an expression, a where) is placed inside pgblit's own statements, so it must
// be one piece of one statement: no ';' outside quotes, no '--' comment (it would hide the rest
// of pgblit's line), parentheses that close only what they opened, every quote and comment
// closed. The server enforces one statement besides (the extended protocol); this names the
// file's line first. Returns the problem, or "" when there is none.
std::string sql_fragment_problem(std::string_view sql);

// "schema.table" → (schema, table); a bare name is in public.
std::pair<std::string, std::string> split_name(const std::string& qualified);

}  // namespace pgblit::mapping
