// See check_builder.hpp.
#include "dryrun/check_builder.hpp"

#include <fmt/format.h>

#include "target/target_prep.hpp"

namespace pgblit::dryrun {

CheckBuilder::CheckBuilder(start::RunSetup& run, const CheckOptions& options)
    : run_(run), options_(options), rows_(run.plan, options.fast, read_generated(*run.target, run.plan.target_tables())) {
  for (const auto& t : run.plan.tables) sources_of_[t.target].push_back(&t);
}

std::vector<Check> CheckBuilder::build() {
  auto tables = run_.plan.target_tables();
  auto source_types = read_source_types(*run_.coordinator, run_.plan);
  for (const auto& c : read_target_columns(*run_.target, tables)) column_checks(c, source_types);
  auto keys = read_keys(*run_.target, tables);
  auto exclusions = read_exclusions(*run_.target, tables);
  for (const auto& x : exclusions) {
    if (x.not_countable.empty()) with_exclusion_.insert(x.table);
  }
  for (const auto& k : keys) {
    if (!implied(k, keys)) key_checks(k);
  }
  for (const auto& k : read_domain_checks(*run_.target, tables)) key_checks(k);
  for (const auto& x : exclusions) exclusion(x);
  encoding_checks(source_types);
  if (options_.mapping) mapping_checks(*options_.mapping);
  for (const auto& [table, conditions] : predicates_) {
    if (conditions.size() < 2) continue;  // nothing can be counted twice
    auto sql = fmt::format("SELECT count(*), NULL FROM {} WHERE ({})", rows_.from(*table, false).first,
                           fmt::join(conditions, ") OR ("));
    Check check{{Severity::Info, "rows with warnings", table->source}, [sql](Sessions& s) {
                  return count_on_source(s, sql, "");
                }};
    check.row_table = table;
    check.rows_with_warnings = true;
    checks_.push_back(std::move(check));
  }
  for (size_t i = 0; i < run_.plan.tables.size(); ++i) {
    if (!counted_exactly(run_.plan.tables[i], options_.exact_counts)) continue;
    auto sql = fmt::format("SELECT count(*), NULL FROM {}", rows_.moved_rows(run_.plan.tables[i]));
    Check check{{Severity::Info, "count", run_.plan.tables[i].source}, [sql](Sessions& s) {
                  return count_on_source(s, sql, "");
                }};
    check.counts_table = i;
    checks_.push_back(std::move(check));
  }
  return std::move(checks_);
}

void CheckBuilder::rows_where(const std::string& table, const std::string& check, const std::string& object,
                              const std::string& condition, const std::string& what, const std::string& fix,
                              bool on_source_only, const std::vector<std::string>& columns, Severity severity) {
  for (const auto* t : sources_of_.at(table)) {
    rows_where_of(*t, check, object, condition, what, fix, columns, on_source_only, severity);
  }
}

void CheckBuilder::rows_where_of(const plan::TableCopy& t, const std::string& check, const std::string& object,
                                 const std::string& condition, const std::string& what, const std::string& fix,
                                 const std::vector<std::string>& columns, bool on_source_only, Severity severity) {
  auto [from_sql, scale] = rows_.from(t, true, "c", columns);
  auto sql = fmt::format("SELECT count(*), {} FROM {} WHERE {}", rows_.example_key(t), from_sql, condition);
  Check c{{severity, check, object, fmt::format("rows of {} {}", t.source, what), -1, "", fix},
          [sql, object](Sessions& s) { return count_on_source(s, sql, object); }};
  c.scale = scale;
  c.on_source_only = on_source_only;
  if (scale == 1 && severity == Severity::Warning) {  // a sample differs from query to query
    c.row_table = &t;
    predicates_[&t].push_back(condition);
  }
  checks_.push_back(std::move(c));
}

const std::set<std::string>& CheckBuilder::prefilled() {
  if (!prefilled_) {
    auto filled = target::target_tables_with_rows(*run_.target, run_.plan);
    prefilled_ = std::set<std::string>(filled.begin(), filled.end());
  }
  return *prefilled_;
}

}  // namespace pgblit::dryrun
