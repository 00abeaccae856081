// The plan: what a run copies, table by table and chunk by chunk.
//
// The planner builds it from both catalogs; the engine executes exactly this and nothing
// else; `pgblit plan --json` prints it. A chunk is a predicate over one source table:
// every row of the table belongs to exactly one of its chunks.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/rules.hpp"

namespace pgblit::plan {

enum class CopyFormat { Binary, Text };

// A column the target stores with a modifier the source value lacks (numeric scale, time
// precision): the source reads it as the target will store it, `(expression)::type`, so a
// mere rescale (37.1 -> 37.10) verifies clean, and verification counts the values the cast
// changes (2.675 -> 2.68), which the target would change too.
struct Rescale {
  std::string column;      // the target column
  std::string expression;  // its value on the source, before the cast
  std::string type;        // the target's type with its modifier, e.g. numeric(14,2)
};

struct TableCopy {
  std::string source;                // "schema"."table", read FROM ONLY
  std::string target;                // "schema"."table" it is loaded into
  bool target_partitioned = false;   // the target routes rows to its partitions
  std::vector<std::string> columns;  // matched by name, in the target's order (so every table
                                     // loading into one target lays its rows out alike)
  CopyFormat format = CopyFormat::Binary;
  std::string text_reason;           // why the table travels as text, when it does
  int64_t estimated_bytes = 0;       // heap + TOAST on the source
  int64_t estimated_rows = -1;       // -1: never analyzed
  std::vector<size_t> depends_on;    // tables the target's foreign keys make it wait for
  std::vector<std::string> key;      // columns the chunks' ranges are on; empty: ctid or whole
  std::vector<std::string> key_types;  // their SQL types, for casting bound literals
  bool key_nullable = false;         // a key column allows NULL (such rows have a chunk of their own)
  std::vector<int> key_fields;       // positions of the key's columns in `columns` (-1: not copied)
  std::string key_index;             // the unique index behind the key
  // Verification: chunk by chunk (the target table takes rows from this table alone, chunks
  // are key ranges, which mean the same rows on the target, and the target has an index to
  // read a range without scanning the table), or else table by table.
  bool verify_by_chunk = false;
  bool key_mapped = false;           // a mapping renamed, computed or remapped the key: its ranges do
                                     // not name the same rows on the target
  std::string chunking;              // "whole", "histogram", "sample", "ctid"
  // With a mapping (--mapping) or rescaled columns: where each of `columns` takes its value
  // from on the source row (empty: the columns themselves), rendered by sql_render.hpp; and the
  // rows kept (empty: all).
  std::vector<mapping::TargetColumn> column_rules{};
  std::string filter{};
  std::string filter_reason{};  // why the filter is what it is (a where, the scope, a foreign key path)
  // Merging (new_keys): how the key's old values become new ones (kind "" when the keys are kept).
  mapping::NewKeys new_keys{};
  // A table filled from a query (the mapping's `queries`): the user's SELECT, read as a subquery
  // in the run's snapshot where a table is read FROM ONLY; `source` then names it for messages.
  // Its key (if any) is columns of the query's result.
  std::string query{};
  bool from_query() const { return !query.empty(); }
  bool merged() const { return !new_keys.kind.empty(); }
  bool mapped() const { return !column_rules.empty(); }
  bool operator==(const TableCopy&) const = default;
};

struct Chunk {
  size_t table = 0;          // index into Plan::tables
  std::string predicate{};   // SQL condition on the source table; empty: the whole table
  int64_t estimated_bytes = 0;
  // The key range [lower, upper) as text literals of the key's columns (ctid: page numbers);
  // empty means unbounded. null_keys: the chunk of rows with a NULL in the key.
  std::vector<std::string> lower{};
  std::vector<std::string> upper{};
  bool null_keys = false;
  bool operator==(const Chunk&) const = default;
};

struct Plan {
  std::vector<TableCopy> tables;
  std::vector<Chunk> chunks;
  std::vector<std::string> schemas;   // source schemas of the copied tables (for sequences)
  std::vector<std::string> warnings;  // shown before the copy starts

  // The distinct target tables, in the order first used.
  std::vector<std::string> target_tables() const;
  int64_t estimated_bytes() const;
};

// The mapping entry a plan table was built from: its source table's entry whose target is the
// table's, else the one without a target (a list has at most one); null when none.
const mapping::TableMapping* entry_of(const mapping::Mapping& mapping, const TableCopy& table);

nlohmann::json to_json(const Plan& plan);
// The plan as to_json wrote it (a run catalog keeps it, so a resumed run executes the same chunks).
// A plan written by an older pgblit (its mapping kept as SQL text) is refused.
Plan plan_from_json(const nlohmann::json& json);
// The plan format to_json writes; a run catalog's plan of another version is not resumed.
constexpr int kPlanVersion = 2;

}  // namespace pgblit::plan
