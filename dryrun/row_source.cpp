// See row_source.hpp.
#include "dryrun/row_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "dryrun/check.hpp"
#include "dryrun/data_checks.hpp"
#include "plan/sql_render.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {
namespace {

// The mapped values as the checks read them: a value map's `else: error` as NULL (the rows it
// fails are left out, and the checks must not fail on them whatever order the server evaluates
// their conditions in), a rescaled column before its cast to the target's modifier, so the
// checks see what the target would round or refuse.
std::vector<std::string> checked_values(const plan::TableCopy& t, const std::vector<std::string>& only) {
  std::vector<std::string> out;
  auto select = plan::select_list(t, plan::Unmapped::as_null);
  auto rescaled = plan::rescaled(t);
  for (size_t i = 0; i < t.columns.size(); ++i) {
    bool key = std::find(t.key_fields.begin(), t.key_fields.end(), static_cast<int>(i)) != t.key_fields.end();
    if (!only.empty() && !key && std::find(only.begin(), only.end(), t.columns[i]) == only.end()) continue;
    auto r = std::find_if(rescaled.begin(), rescaled.end(), [&](const auto& x) { return x.column == t.columns[i]; });
    out.push_back(r == rescaled.end() ? select[i] : fmt::format("({}) AS {}", r->expression, pg::quote_ident(r->column)));
  }
  if (out.empty()) out.push_back("1");  // a check of the row count alone
  return out;
}

// The key's columns by their names in the checked rows (target names for a mapped table); fewer
// than the key's when the mapping leaves one out.
std::vector<std::string> key_columns(const plan::TableCopy& t) {
  std::vector<std::string> key;
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (!t.mapped()) key.push_back(t.key[k]);
    else if (t.key_fields[k] >= 0) key.push_back(t.columns[static_cast<size_t>(t.key_fields[k])]);
  }
  return key;
}

}  // namespace

RowSource::RowSource(const plan::Plan& plan, bool fast, const std::vector<Generated>& generated) : fast_(fast) {
  for (const auto& g : generated) generated_[g.table].push_back(g);
  for (const auto& t : plan.tables) {
    for (const auto& rule : t.column_rules) {
      const auto* map = std::get_if<mapping::ValueMap>(&rule.source);
      if (!map || map->otherwise != "error") continue;
      std::vector<std::string> covered;
      for (const auto& [from, to] : map->values) covered.push_back(from);
      mappable_[&t].push_back(fmt::format("({0} IS NULL OR {0} = ANY ({1}::text[]))", plan::value_map_input_sql(*map),
                                          pg::quote_literal(pg::text_array_literal(covered))));
    }
  }
}

std::pair<std::string, double> RowSource::sample(const plan::TableCopy& t) const {
  double rows = static_cast<double>(t.estimated_rows);
  if (!fast_ || rows <= kFastSampleRows || t.from_query()) return {"", 1.0};  // a subquery has no TABLESAMPLE
  double percent = std::max(0.0001, 100 * kFastSampleRows / rows);
  return {fmt::format(" TABLESAMPLE SYSTEM ({:.6f})", percent), 100 / percent};
}

std::pair<std::string, double> RowSource::from(const plan::TableCopy& t, bool may_sample, const std::string& alias,
                                               const std::vector<std::string>& only) const {
  auto g = generated_.find(t.target);
  if (g == generated_.end()) return from_rows(t, may_sample, alias, only);
  bool reads_one = only.empty();
  std::vector<std::string> computed, reads = only;  // the row's columns the computed ones need too
  for (const auto& column : g->second) {
    reads_one = reads_one || std::find(only.begin(), only.end(), column.name) != only.end();
    computed.push_back(fmt::format("({}) AS {}", column.expression, pg::quote_ident(column.name)));
    reads.insert(reads.end(), column.reads.begin(), column.reads.end());
  }
  if (!reads_one) return from_rows(t, may_sample, alias, only);
  if (only.empty()) reads.clear();
  std::erase_if(reads, [&](const std::string& name) {
    return std::any_of(g->second.begin(), g->second.end(), [&](const Generated& x) { return x.name == name; });
  });
  if (!only.empty() && reads.empty()) reads.push_back("");  // the key alone (checked_values adds it)
  auto [rows, scale] = from_rows(t, may_sample, "r", reads);
  return {fmt::format("(SELECT r.*, {} FROM {}) {}", fmt::join(computed, ", "), rows, alias), scale};
}

std::string RowSource::moved_rows(const plan::TableCopy& t) const { return from_rows(t, false, "c", {""}, false).first; }

std::pair<std::string, double> RowSource::from_rows(const plan::TableCopy& t, bool may_sample,
                                                    const std::string& alias, const std::vector<std::string>& only,
                                                    bool mappable_only) const {
  auto [sample, scale] = may_sample ? this->sample(t) : std::pair<std::string, double>{"", 1.0};
  std::vector<std::string> where;
  if (!t.filter.empty()) where.push_back("(" + t.filter + ")");
  if (auto m = mappable_.find(&t); mappable_only && m != mappable_.end()) {
    where.insert(where.end(), m->second.begin(), m->second.end());
  }
  if (!t.mapped() && where.empty() && !t.from_query()) return {fmt::format("ONLY {} {}{}", t.source, alias, sample), scale};
  return {fmt::format("(SELECT {} FROM {}{}{}) {}", !t.mapped() ? "*" : fmt::format("{}", fmt::join(checked_values(t, only), ", ")),
                      plan::source_relation(t), sample, where.empty() ? "" : fmt::format(" WHERE {}", fmt::join(where, " AND ")), alias),
          scale};
}

std::string RowSource::example_key(const plan::TableCopy& t) const {
  auto key = key_columns(t);
  return key.empty() ? std::string("NULL") : fmt::format("min(ROW({})::text)", joined(key, "c"));
}

std::string RowSource::earlier_row(const plan::TableCopy& t, const std::vector<std::string>& columns,
                                   const std::string& condition) const {
  auto key = key_columns(t);
  if (key.empty() || key.size() != t.key.size()) return "";
  return fmt::format("EXISTS (SELECT 1 FROM {} WHERE ROW({}) < ROW({}) AND {})", from(t, false, "p", columns).first,
                     joined(key, "p"), joined(key, "c"), condition);
}

bool RowSource::computes(const std::string& table, const std::string& column) const {
  auto g = generated_.find(table);
  return g != generated_.end() &&
         std::any_of(g->second.begin(), g->second.end(), [&](const Generated& x) { return x.name == column; });
}

}  // namespace pgblit::dryrun
