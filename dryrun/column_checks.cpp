// The checks of each target column the copy fills (NOT NULL, lengths, integer and numeric
// ranges, rounding, enum labels), of the target's encoding, and of the mapping (values a value
// map lacks, filters that select nothing). See check_builder.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "dryrun/check_builder.hpp"
#include "pg/sql.hpp"

namespace pgblit::dryrun {

void CheckBuilder::column_checks(const TargetColumn& c, const SourceTypes& types) {
  auto object = c.table + "." + pg::quote_ident(c.name);
  auto col = "c." + pg::quote_ident(c.name);
  const auto* first = sources_of_.at(c.table).front();
  bool filled = std::find(first->columns.begin(), first->columns.end(), c.name) != first->columns.end();
  bool computed = rows_.computes(c.table, c.name);
  if (!filled && !computed) return;  // the target's default (the planner already judged that)
  auto it = types.find({first->source, c.name});
  // A mapped table's values are cast to the target's type without its modifier.
  const std::string source_type = computed || first->mapped() || it == types.end() ? "mapped" : it->second;
  // Each reads this column alone (and the key for its example).
  auto rows_where = [&](const std::string& check, const std::string& condition, const std::string& what,
                        const std::string& fix, Severity severity = Severity::Warning) {
    this->rows_where(c.table, check, object, condition, what, fix, false, {c.name}, severity);
  };
  if (c.needs_value) {
    rows_where("not null", col + " IS NULL", "with NULL where the target's column is NOT NULL",
               "fill the values, or let --max-rejects set the rows aside");
  }
  if (c.max_chars >= 0 && source_type != c.type) {
    // As the target enforces it: a value longer only by trailing spaces is cut to fit, not
    // refused (the copy stores it shortened, which verification then reports).
    rows_where("length", fmt::format("char_length(rtrim({}::text, ' ')) > {}", col, c.max_chars),
               fmt::format("with values longer than the target's {} characters", c.max_chars),
               "widen the target's column, or shorten the values");
    rows_where("trailing spaces",
               fmt::format("char_length({0}::text) > {1} AND char_length(rtrim({0}::text, ' ')) <= {1}", col,
                           c.max_chars),
               fmt::format("with values the target's {} characters keep only by cutting their trailing spaces "
                           "(stored shortened: verification reports them as differing)",
                           c.max_chars),
               "widen the target's column, or trim the values", Severity::Info);
  }
  if (c.is_enum) {
    rows_where("enum",
               fmt::format("{0} IS NOT NULL AND NOT ({0}::text = ANY ({1}::text[]))", col,
                           pg::quote_literal(pg::text_array_literal(c.labels))),
               fmt::format("with labels the target's {} does not have", c.type),
               fmt::format("ALTER TYPE {} ADD VALUE for each missing label", c.type));
  }
  if (source_type == c.type) return;  // the same type takes the same values
  static const std::map<std::string, std::pair<int64_t, int64_t>> ranges = {
      {"smallint", {-32768, 32767}}, {"integer", {INT32_MIN, INT32_MAX}}};
  if (auto r = ranges.find(c.type); r != ranges.end() && source_type != "smallint") {
    rows_where("range",
               fmt::format("{0} IS NOT NULL AND ({0} < {1} OR {0} > {2})", col, r->second.first, r->second.second),
               fmt::format("with values outside the target's {} range ({}: {} to {})", c.type, source_type,
                           r->second.first, r->second.second),
               "widen the target's column to bigint");
  }
  if (c.precision > 0 && c.scale <= c.precision) {
    rows_where("numeric",
               fmt::format("{0} IS NOT NULL AND {0}::numeric <> 'NaN' AND round(abs({0}::numeric), {1}) >= 1e{2}", col,
                           c.scale, c.precision - c.scale),
               fmt::format("with values that overflow the target's {}", c.type),
               "raise the target column's precision");
    // Not refused, but stored changed (2.675 as 2.68): verification reports them as differences.
    rows_where("rounding",
               fmt::format("{0} IS NOT NULL AND {0}::numeric <> 'NaN' AND round(abs({0}::numeric), {1}) < 1e{2} "
                           "AND round({0}::numeric, {1}) <> {0}::numeric",
                           col, c.scale, c.precision - c.scale),
               fmt::format("with values the target's {} rounds (stored changed: verification reports them)", c.type),
               "raise the target column's scale, or round the values on the source");
  }
}

// A target whose encoding cannot hold every character: LATIN1 from UTF8 is counted; other
// pairs are named (the copy's conversion will refuse such rows).
void CheckBuilder::encoding_checks(const SourceTypes& types) {
  auto source = run_.coordinator->exec("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").text(0, 0);
  auto target = run_.target->exec("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").text(0, 0);
  if (source == target || target == "UTF8" || target == "SQL_ASCII") return;
  if (source != "UTF8" || target != "LATIN1") {
    checks_.push_back({{Severity::Info, "encoding", "target database",
                        fmt::format("the source is {}, the target {}: characters the target cannot hold are "
                                    "refused row by row during the copy (not counted here)", source, target)},
                       nullptr});
    return;
  }
  for (const auto& t : run_.plan.tables) {
    std::vector<std::string> conditions;
    for (const auto& column : t.columns) {
      auto it = types.find({t.source, column});
      if (it == types.end()) continue;
      const auto& type = it->second;
      if (type == "text" || type.starts_with("character") || type == "json" || type == "jsonb" || type == "name") {
        conditions.push_back(fmt::format("c.{}::text ~ '[^\\x01-\\xff]'", pg::quote_ident(column)));
      }
    }
    if (conditions.empty()) continue;
    rows_where(t.target, "encoding", t.source, fmt::format("{}", fmt::join(conditions, " OR ")),
               "with characters LATIN1 cannot hold", "change the values, or create the target database as UTF8");
  }
}

// The mapping, on the source rows it reads: values each value map lacks, and filters that
// select nothing.
void CheckBuilder::mapping_checks(const mapping::Mapping& mapping) {
  for (size_t i = 0; i < run_.plan.tables.size(); ++i) {
    const auto& t = run_.plan.tables[i];
    std::string where = t.filter.empty() ? "" : " WHERE " + t.filter;
    if (!t.filter.empty()) {
      auto sql = fmt::format("SELECT count(*), NULL FROM (SELECT 1 FROM ONLY {}{} LIMIT 1) c", t.source, where);
      Check c{{Severity::Info, "filter", t.source, fmt::format("selects no row of {} ({}): nothing of it is copied",
                                                                t.source, t.filter_reason),
               0, "", "check the scope's value and the table's where"},
              [sql, object = t.source](Sessions& s) { return count_on_source(s, sql, object); }};
      c.finds_a_row = true;
      checks_.push_back(std::move(c));
    }
    const mapping::TableMapping* m = plan::entry_of(mapping, t);
    if (!m) continue;
    for (const auto& [column, cm] : m->columns) {
      if (cm.values.empty()) continue;
      std::vector<std::string> covered;
      for (const auto& [from, to] : cm.values) covered.push_back(from);
      auto [sampled, scale] = rows_.sample(t);
      auto sql = fmt::format("SELECT count(*), min(v) FROM (SELECT ({})::text AS v FROM ONLY {}{}{}) c "
                             "WHERE v IS NOT NULL AND NOT (v = ANY ({}::text[]))",
                             cm.from.empty() ? cm.expr : pg::quote_ident(cm.from), t.source, sampled, where,
                             pg::quote_literal(pg::text_array_literal(covered)));
      bool fails = cm.otherwise == "error";
      Check c{{fails ? Severity::Warning : Severity::Info, "value map", t.target + "." + pg::quote_ident(column),
               fmt::format("rows of {} with a {} the map ({}) does not cover: {}", t.source,
                           cm.from.empty() ? "value" : "\"" + cm.from + "\"", cm.where,
                           fails ? "the copy fails on them (else: error)"
                           : cm.otherwise == "null" ? "they get NULL (else: null)"
                                                    : "they keep their value (else: keep)"),
               -1, "", "add the values to the map, or choose what 'else' does with them"},
              [sql, object = t.source](Sessions& s) { return count_on_source(s, sql, object); }};
      c.scale = scale;
      checks_.push_back(std::move(c));
    }
  }
}

}  // namespace pgblit::dryrun
