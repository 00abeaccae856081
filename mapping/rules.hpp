// The mapping as typed rules: for each target column of a copied table, where its value comes
// from on the source row; for a merged table, how its keys become new ones. The planner builds
// them from the mapping file and both catalogs; the plan (and so the run catalog) keeps them as
// they are; one renderer (plan/sql_render.hpp) turns them into SQL. Nothing here is SQL
// text except what the user wrote (an expression), so nothing reads SQL back to learn a rule.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pgblit::mapping {

// A run of consecutive old keys [old_first, old_first + count) taking the new keys
// [new_first, new_first + count): dense new keys are a list of them, one per gap in the source.
struct KeyRun {
  int64_t old_first = 0;
  int64_t count = 0;
  int64_t new_first = 0;
  bool operator==(const KeyRun&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeyRun, old_first, count, new_first)

// A merged table's keys (new_keys): `sequence` gives the moved rows exactly as many keys as
// rows move, in source key order, from a block [first, first + count) reserved in the target's
// sequence when the run starts; `uuid` gives md5(salt || old).
struct NewKeys {
  std::string kind;           // "sequence" or "uuid"
  std::string source_table;   // "schema"."table" on the source
  std::string target_table;   // "schema"."table" on the target
  std::string source_column;  // the key on the source
  std::string target_column;  // the column the key lands in on the target (a mapping may rename it)
  std::string sequence;       // the target sequence the block is reserved in; "" for none
  int64_t first = 0;          // the block of new keys
  int64_t count = 0;
  std::vector<KeyRun> runs{};
  std::string salt{};  // uuid
  // The rows the run moves (the table's row filter on the source, "" for all): a uuid reference
  // to a row outside them becomes NULL, as an integer one does (its old key has no run).
  std::string filter{};
  bool operator==(const NewKeys&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NewKeys, kind, source_table, target_table, source_column, target_column, sequence,
                                   first, count, runs, salt, filter)

// A constant remap of one column (the mapping's `remap`): `from` becomes `to`.
struct ConstantRemap {
  std::string from, to;
  bool operator==(const ConstantRemap&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ConstantRemap, from, to)

// The source column as it is: same name, same type on both sides.
struct PassThrough {
  std::string column;
  bool operator==(const PassThrough&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PassThrough, column)

// A source column carried under any name, read as the target's type, its remaps applied.
struct Cast {
  std::string column;
  std::string type;
  std::vector<ConstantRemap> remaps{};
  bool operator==(const Cast&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Cast, column, type, remaps)

// SQL the user wrote over the source row.
struct Expression {
  std::string sql;
  std::string type;
  bool operator==(const Expression&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Expression, sql, type)

// A value map over a source column (or an expression): a value the map lacks is kept, made
// NULL, or fails the row (otherwise: keep, null, error).
struct ValueMap {
  std::string column;      // "" with expr
  std::string expression;  // user SQL, "" with column
  std::vector<std::pair<std::string, std::string>> values{};
  std::string otherwise = "keep";
  std::string target_column{};  // named in the error a missing value raises
  std::string type{};
  bool operator==(const ValueMap&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ValueMap, column, expression, values, otherwise, target_column, type)

// The merged table's own key, through its NewKeys.
struct NewKey {
  std::string column;
  std::string type;
  bool operator==(const NewKey&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NewKey, column, type)

// A reference to a merged table's row, rewritten through the parent's key rule; a key the
// parent did not move becomes NULL.
struct Reference {
  std::string column;
  std::string type;
  NewKeys parent;
  bool operator==(const Reference&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Reference, column, type, parent)

// An array of references, rewritten element by element, order kept.
struct ReferenceArray {
  std::string column;
  std::string type;  // the array type on the target, e.g. integer[]
  NewKeys parent;
  bool operator==(const ReferenceArray&) const = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReferenceArray, column, type, parent)

using ColumnSource = std::variant<PassThrough, Cast, Expression, ValueMap, NewKey, Reference, ReferenceArray>;

// One column the copy writes.
struct TargetColumn {
  std::string name;
  ColumnSource source;
  // The target rounds values to its modifier (numeric(14,2)): the source reads them as the
  // target stores them, and verification counts the values the rounding changes.
  bool rescaled = false;
  // The target is char(n), which keeps a value padded with spaces to n characters (its
  // trailing spaces are insignificant): the source reads the value padded as the target stores
  // it, so a correct copy verifies clean and any other difference still shows. 0: not padded.
  int padded_to = 0;
  bool operator==(const TargetColumn&) const = default;
};

void to_json(nlohmann::json& json, const ColumnSource& source);
void from_json(const nlohmann::json& json, ColumnSource& source);
void to_json(nlohmann::json& json, const TargetColumn& column);
void from_json(const nlohmann::json& json, TargetColumn& column);

// The source column a target column carries (passed through, cast, its key or a reference),
// "" when its value is computed.
std::string carried_column(const ColumnSource& source);
// The type the value is read as on the source ("" for a pass-through).
std::string read_type(const ColumnSource& source);

}  // namespace pgblit::mapping
