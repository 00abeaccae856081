// The checks of the target's keys and constraints over rows: unique keys (and, appended, keys
// the target already holds), foreign keys (to a parent the run copies, or to one on the target
// only), CHECKs of tables and domains, exclusion constraints. See check_builder.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "dryrun/check_builder.hpp"
#include "pg/session.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {
namespace {

constexpr int64_t kMaxKeysSentToTarget = 1000000;  // distinct keys a target-side check ships

}  // namespace

// A unique key whose every violation is one of another unique key of the table too (its columns
// hold the other's: UNIQUE (id, k) beside PRIMARY KEY (id)): its rows are counted there, once.
bool implied(const Key& k, const std::vector<Key>& keys) {
  if (k.type != "p" && k.type != "u") return false;
  std::set<std::string> mine(k.columns.begin(), k.columns.end());
  return std::any_of(keys.begin(), keys.end(), [&](const Key& other) {
    if (&other == &k || other.table != k.table || (other.type != "p" && other.type != "u")) return false;
    if (k.nulls_not_distinct && !other.nulls_not_distinct) return false;
    std::set<std::string> theirs(other.columns.begin(), other.columns.end());
    bool subset = std::includes(mine.begin(), mine.end(), theirs.begin(), theirs.end());
    return subset && (theirs.size() < mine.size() || other.name < k.name);
  });
}

void CheckBuilder::key_checks(const Key& k) {
  auto object = k.table + " " + pg::quote_ident(k.name);
  if (k.type == "c" && !k.not_portable.empty()) {
    // The target's CHECK would run on the source with the source role's rights: whoever owns
    // a target table must not gain those. Only built-in immutable functions run there.
    checks_.push_back({{Severity::Info, "check", object,
                        fmt::format("the target's CHECK ({}) was not evaluated on the source: it uses {}, which "
                                    "must not run with the source role's rights; the copy tests it row by row on "
                                    "the target",
                                    k.expression, k.not_portable)},
                       nullptr});
  } else if (k.type == "c") {
    rows_where(k.table, "check", object, fmt::format("NOT ({})", k.expression),
               "breaking the target's CHECK (" + k.expression + ")", "fix the rows, or relax the constraint",
               true, k.columns);  // its own columns only: another column's failing expression is not its finding
  } else if (k.type == "f" && sources_of_.contains(k.referenced)) {
    orphans_among_copied(k, object);
  } else if (k.type == "f") {
    keys_checked_on_target(k, object, false);
  } else {
    duplicates(k, object);
    if (options_.append && prefilled().contains(k.table)) keys_checked_on_target(k, object, true);
  }
}

void CheckBuilder::duplicates(const Key& k, const std::string& object) {
  // A key with a NULL in it is distinct from every other, unless NULLS NOT DISTINCT.
  std::vector<std::string> not_null, same;
  for (const auto& c : k.columns) {
    not_null.push_back("c." + pg::quote_ident(c) + " IS NOT NULL");
    same.push_back(fmt::format(fmt::runtime(k.nulls_not_distinct ? "p.{0} IS NOT DISTINCT FROM c.{0}" : "p.{0} = c.{0}"),
                               pg::quote_ident(c)));
  }
  std::string where = k.nulls_not_distinct ? "" : fmt::format(" WHERE {}", fmt::join(not_null, " AND "));
  for (const auto* t : sources_of_.at(k.table)) {
    auto sql = fmt::format(
        "SELECT COALESCE(sum(n - 1), 0), min(k) FROM (SELECT count(*) AS n, min(ROW({0})::text) AS k "
        "FROM {1}{2} GROUP BY {0} HAVING count(*) > 1) d",
        joined(k.columns, "c"), rows_.from(*t, false, "c", k.columns).first, where);
    Check check{{Severity::Warning, "unique", object,
                 "rows of " + t->source + " the target's unique constraint refuses (all but one of each "
                 "key they share)", -1,
                 "", "remove the duplicates on the source, or drop the constraint on the target"},
                [sql, object](Sessions& s) { return count_on_source(s, sql, object); }};
    // The same rows as a row predicate (a row sharing its key with an earlier one), so a row
    // that also breaks an exclusion on the same value is one row. A self-join without the
    // target's index: only where the exclusion's own count runs one (small tables), never on
    // every unique key of every table (quadratic on a large one).
    if (!with_exclusion_.contains(k.table) || t->estimated_rows > kExclusionRows) {
      checks_.push_back(std::move(check));
      continue;
    }
    if (auto earlier = rows_.earlier_row(*t, k.columns, fmt::format("{}", fmt::join(same, " AND "))); !earlier.empty()) {
      check.row_table = t;
      predicates_[t].push_back(earlier);
    }
    checks_.push_back(std::move(check));
  }
}


// Rows an exclusion constraint refuses: each row that conflicts with a row before it (in key
// order). Where conflicting rows form groups that all conflict with one another (equal or
// overlapping values), that is all but one of each group, as the target refuses them in any
// order; in chains (a with b, b with c, not a with c) the target's count depends on the load
// order and this one is an upper bound. A self-join without the target's index: run on tables
// up to kExclusionRows rows; larger ones, or constraints on expressions, with a WHERE, or with
// operators the target defines, are named as info (the copy tests them row by row).
void CheckBuilder::exclusion(const Exclusion& x) {
  auto object = x.table + " " + pg::quote_ident(x.name);
  for (const auto* t : sources_of_.at(x.table)) {
    std::string condition;
    if (x.not_countable.empty() && t->estimated_rows <= kExclusionRows) {
      std::vector<std::string> conflicts;
      for (size_t i = 0; i < x.columns.size(); ++i) {
        conflicts.push_back(fmt::format("p.{0} {1} c.{0}", pg::quote_ident(x.columns[i]), x.operators[i]));
      }
      condition = rows_.earlier_row(*t, x.columns, fmt::format("{}", fmt::join(conflicts, " AND ")));
    }
    if (condition.empty()) {
      checks_.push_back({{Severity::Info, "exclusion", object,
                          fmt::format("rows of {} the target's exclusion constraint refuses are not counted ({}); the "
                                      "copy tests it row by row",
                                      t->source,
                                      !x.not_countable.empty() ? x.not_countable
                                      : t->estimated_rows > kExclusionRows
                                          ? fmt::format("more than {} rows: a self-join without the target's index", kExclusionRows)
                                          : std::string("the table has no key to order its rows by"))},
                         nullptr});
      continue;
    }
    std::vector<std::string> columns = x.columns;
    rows_where_of(*t, "exclusion", object, condition,
                  "that conflict with an earlier row under the target's exclusion constraint (all but one of each "
                  "group of conflicting rows)",
                  "remove the conflicting rows on the source, or drop the constraint on the target", columns);
  }
}

// Rows whose parent is not among the copied rows of the parent table (each side reads only the
// key's columns: another column's failing expression is not this check's). Appended into a
// parent that already holds rows, such rows' keys are then looked up on the target.
void CheckBuilder::orphans_among_copied(const Key& k, const std::string& object) {
  std::vector<std::string> match, not_null, parents;
  for (size_t i = 0; i < k.columns.size(); ++i) {
    match.push_back(fmt::format("p.{} = c.{}", pg::quote_ident(k.referenced_columns[i]), pg::quote_ident(k.columns[i])));
    not_null.push_back(fmt::format("c.{} IS NOT NULL", pg::quote_ident(k.columns[i])));
  }
  for (const auto* parent : sources_of_.at(k.referenced)) {
    parents.push_back(fmt::format("EXISTS (SELECT 1 FROM {} WHERE {})",
                                  rows_.from(*parent, false, "p", k.referenced_columns).first, fmt::join(match, " AND ")));
  }
  if (options_.append && prefilled().contains(k.referenced)) {
    keys_checked_on_target(k, object, false, fmt::format("NOT ({})", fmt::join(parents, " OR ")),
                           " nor among the rows copied to it");
    return;
  }
  rows_where(k.table, "foreign key", object,
             fmt::format("{} AND NOT ({})", fmt::join(not_null, " AND "), fmt::join(parents, " OR ")),
             "whose parent row is not among the rows copied to " + k.referenced,
             "copy the parents too, or remove the orphans", false, k.columns);
}

// Rows whose key the target lacks (a foreign key to a table the run does not copy, or, appended,
// to one that already holds rows: the parent may be there) or already has (a unique key of a
// table that holds rows). The source's distinct keys (composite ones too), with their row
// counts, are looked up on the target. `among`: only rows where this holds (alias c). A key the
// target already has refuses every row holding it, and the unique check already counted all
// but one of them: this counts the one.
void CheckBuilder::keys_checked_on_target(const Key& k, const std::string& object, bool collisions,
                                          const std::string& among, const std::string& why) {
  const auto& parent = collisions ? k.table : k.referenced;
  const auto& parent_columns = collisions ? k.columns : k.referenced_columns;
  std::vector<std::string> values, not_null, names, match;
  for (size_t i = 0; i < k.columns.size(); ++i) {
    auto column = pg::quote_ident(k.columns[i]);
    values.push_back(fmt::format("c.{}::text", column));
    not_null.push_back(fmt::format("c.{} IS NOT NULL", column));
    names.push_back(fmt::format("k{}", i));
    // The key's values in the target column's type (a foreign key's columns share its parent's).
    match.push_back(fmt::format("p.{} = v.k{}::{}", pg::quote_ident(parent_columns[i]), i, k.column_types[i]));
  }
  std::vector<std::string> groups;
  for (size_t i = 1; i <= k.columns.size(); ++i) groups.push_back(std::to_string(i));
  if (!among.empty()) not_null.push_back("(" + among + ")");
  for (const auto* t : sources_of_.at(k.table)) {
    auto source_sql = fmt::format("SELECT {}, count(*) FROM {} WHERE {} GROUP BY {} LIMIT {}", fmt::join(values, ", "),
                                  rows_.from(*t, false, "c", k.columns).first, fmt::join(not_null, " AND "),
                                  fmt::join(groups, ", "), kMaxKeysSentToTarget + 1);
    std::vector<std::string> arrays;
    for (size_t i = 1; i <= k.columns.size(); ++i) arrays.push_back(fmt::format("${}::text[]", i));
    auto target_sql = fmt::format(
        "SELECT v.i FROM unnest({}) WITH ORDINALITY v({}, i) WHERE {}EXISTS (SELECT 1 FROM {} p WHERE {})",
        fmt::join(arrays, ", "), fmt::join(names, ", "), collisions ? "" : "NOT ", parent, fmt::join(match, " AND "));
    Finding f = collisions
                    ? Finding{Severity::Warning, "existing key", object,
                              "rows of " + t->source + " whose key " + k.table +
                                  " already holds (one a key: its repeats are counted under unique)",
                              -1, "", "remove those rows from the target, or copy with --on-existing truncate"}
                    : Finding{Severity::Warning, "foreign key", object,
                              "rows of " + t->source + " whose parent is not on the target's " + parent +
                                  (why.empty() ? " (a table the run does not copy)" : why),
                              -1, "", "load the parents on the target first, or remove the orphans"};
    const size_t width = k.columns.size();
    checks_.push_back({std::move(f), [source_sql, target_sql, object, width, collisions,
                                      target = options_.target](Sessions& s) {
                         auto keys = s.source->exec_one(source_sql, object);
                         if (keys.rows() > kMaxKeysSentToTarget) {
                           throw usage_error(fmt::format("more than {} distinct keys to look up", kMaxKeysSentToTarget),
                                             object);
                         }
                         std::vector<std::optional<std::string>> params;
                         for (size_t col = 0; col < width; ++col) {
                           std::vector<std::string> column;
                           for (int i = 0; i < keys.rows(); ++i) column.push_back(keys.text(i, static_cast<int>(col)));
                           params.emplace_back(pg::text_array_literal(column));
                         }
                         if (!s.target) {
                           s.target.emplace(pg::open_session(target, "target"));
                           s.target->exec("BEGIN READ ONLY");
                         }
                         auto found = s.target->exec_params(target_sql, params, object);
                         Count count;
                         for (int i = 0; i < found.rows(); ++i) {
                           int row = static_cast<int>(found.int64(i, 0)) - 1;
                           count.rows += collisions ? 1 : keys.int64(row, static_cast<int>(width));
                           if (count.example.empty()) {
                             std::vector<std::string> key;
                             for (size_t col = 0; col < width; ++col) key.push_back(keys.text(row, static_cast<int>(col)));
                             count.example = fmt::format("({})", fmt::join(key, ", "));
                           }
                         }
                         return count;
                       }});
  }
}

}  // namespace pgblit::dryrun
