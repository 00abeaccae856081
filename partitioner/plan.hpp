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

namespace pgblit::partitioner {

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

// Where a target column's value comes from, when it is a source column carried unchanged
// (passed through or renamed, perhaps cast): what rewrites such a column (a merge's new keys
// and the foreign keys that follow them) finds it by, whatever the target calls it.
struct ColumnSource {
  std::string column;  // the source column; "" when the value is computed (expr, map, remap)
  std::string cast;    // the type select_list casts it to; "" for none
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
  // With a mapping (--mapping): the SELECT expression of each of `columns` over the source row
  // (empty: the columns themselves), and the rows kept (empty: all).
  std::vector<std::string> select_list{};
  std::string filter{};
  std::string filter_reason{};  // why the filter is what it is (a where, the scope, a foreign key path)
  // Merging (new_keys): how the key's old values became new ones, kept with the plan in the run
  // catalog: {"column", "kind": "sequence", "source_min", "base", "span", "sequence"} (new =
  // old - source_min + base) or {"column", "kind": "uuid", "salt"} (new = md5(salt || old)).
  std::string key_remap{};  // JSON, "" when the keys are kept
  std::vector<Rescale> rescaled{};
  std::vector<ColumnSource> column_sources{};  // one per column
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

// The new key, as SQL, of a row whose old key is the SQL `old`, by a table's key_remap rule.
std::string new_key_sql(const std::string& key_remap, const std::string& old);

nlohmann::json to_json(const Plan& plan);
// The plan as to_json wrote it (a run catalog keeps it, so a resumed run executes the same chunks).
Plan plan_from_json(const nlohmann::json& json);

}  // namespace pgblit::partitioner
