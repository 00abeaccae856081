// See dry_run.hpp.
#include "dryrun/dry_run.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "dryrun/data_checks.hpp"
#include "pg/sql.hpp"
#include "target/preflight.hpp"
#include "target/target_prep.hpp"

namespace pgblit::dryrun {

const char* to_string(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Info: return "info";
  }
  return "info";
}

DryRun dry_run(start::RunSetup& run, const target::Deferral& deferral, const start::CopySettings& copy,
               const DryRunOptions& options, const mapping::Mapping* mapping) {
  DryRun result;
  const auto& plan = run.plan;
  const bool truncate = copy.on_existing == target::OnExisting::Truncate;
  const bool append = copy.on_existing == target::OnExisting::Append;
  for (const auto& p : target::target_problems(*run.target, *run.coordinator, plan,
                                               {copy.jobs, copy.rebuilds_at_once(), truncate, copy.verify,
                                                copy.catalog_schema, run.same_cluster})) {
    result.findings.push_back({Severity::Error, "operations", p.object, p.problem, -1, "", p.fix});
  }
  for (const auto& t : target::target_tables_with_rows(*run.target, plan)) {
    bool allowed = truncate || append;
    result.findings.push_back(
        {allowed ? Severity::Info : Severity::Error, "target not empty", t,
         truncate ? "holds rows: --on-existing truncate empties it first"
         : append ? "holds rows: --on-existing append adds to them"
                          : "holds rows already",
         -1, "", allowed ? "" : "empty it, or copy with --on-existing truncate or append"});
  }
  // Triggers and rules on the target fire for every loaded row (unless --disable-triggers).
  auto fires = run.target->exec_params(R"(
SELECT t, 'trigger ' || quote_ident(tg.tgname) FROM unnest($1::text[]) t JOIN pg_trigger tg ON tg.tgrelid = t::regclass
WHERE NOT tg.tgisinternal AND tg.tgenabled <> 'D'
UNION ALL
SELECT t, 'rule ' || quote_ident(r.rulename) FROM unnest($1::text[]) t JOIN pg_rewrite r ON r.ev_class = t::regclass
WHERE r.rulename <> '_RETURN' ORDER BY 1, 2)",
                                       {pg::text_array_literal(plan.target_tables())}, "triggers");
  for (int i = 0; i < fires.rows() && !copy.disable_triggers; ++i) {
    result.findings.push_back({Severity::Info, "triggers", fires.text(i, 0),
                               fires.text(i, 1) + " will fire for every row the copy loads", -1, "",
                               "copy with --disable-triggers (superuser) if it must not"});
  }
  result.exact_rows = std::all_of(plan.tables.begin(), plan.tables.end(),
                                  [&](const auto& t) { return counted_exactly(t, options.exact_counts); });
  auto checked = run_data_checks(run, {copy.source, copy.target, copy.jobs, options.fast_checks, append,
                                       options.exact_counts, options.check_timeout, mapping});
  for (auto& f : checked.findings) result.findings.push_back(std::move(f));
  result.rows = 0;
  for (const auto& t : plan.tables) result.rows += std::max<int64_t>(t.estimated_rows, 0);
  result.estimate = estimate(run, deferral, {copy.source, copy.target, copy.jobs, copy.rebuilds_at_once(), copy.verify,
                                             copy.analyze, !copy.defer_indexes, options.estimate_seconds});
  std::erase_if(result.findings, [](const Finding& f) {
    return (f.severity == Severity::Warning || f.check == "trailing spaces") && f.rows == 0;
  });
  size_t errors = 0;
  for (const auto& f : result.findings) {
    errors += f.severity == Severity::Error;
    if (f.severity == Severity::Warning) result.warning_rows += f.rows;
  }
  result.warning_rows -= checked.rows_counted_twice;  // rows, not findings
  // Rows with warnings and none to move cannot be weighed: that is never a go.
  double ratio = result.rows > 0 ? static_cast<double>(result.warning_rows) / static_cast<double>(result.rows)
                                 : (result.warning_rows > 0 ? 1.0 : 0.0);
  result.go = errors == 0 && ratio <= options.max_warning_ratio;
  result.verdict = errors > 0 ? fmt::format("no-go: {} error{}", errors, errors == 1 ? "" : "s")
                   : result.go ? fmt::format("go: {} rows with warnings ({:.3f}% of {} rows{}, at most {:.3f}%)",
                                             result.warning_rows, 100 * ratio, result.rows,
                                             result.exact_rows ? "" : ", partly estimated", 100 * options.max_warning_ratio)
                               : fmt::format("no-go: {} rows with warnings, {:.3f}% of {} rows{} (at most {:.3f}%)",
                                             result.warning_rows, 100 * ratio, result.rows,
                                             result.exact_rows ? "" : ", partly estimated", 100 * options.max_warning_ratio);
  // A go with warnings still fails the copy at its first refused row unless --max-rejects lets
  // the copy set them aside: say so where the verdict is read.
  if (result.go && result.warning_rows > 0) {
    result.verdict += options.fast_checks
                          ? "; copy with --max-rejects (set from these counts) to set them aside, or fix them first"
                          : fmt::format("; copy with --max-rejects {} to set them aside, or fix them first",
                                        result.warning_rows);
  }
  return result;
}

DryRun failed_plan(const Error& error) {
  DryRun result;
  result.findings.push_back({Severity::Error, "schema", error.object(), error.what(), -1, "", error.hint()});
  result.go = false;
  result.verdict = "no-go: the copy cannot be planned";
  return result;
}

nlohmann::json to_json(const DryRun& d) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : d.findings) {
    findings.push_back({{"severity", to_string(f.severity)}, {"check", f.check}, {"object", f.object},
                        {"message", f.message}, {"rows", f.rows}, {"example", f.example}, {"fix", f.fix},
                        {"seconds", f.seconds}, {"estimated", f.estimated}});
  }
  return {{"schema", 1},          {"go", d.go},         {"verdict", d.verdict},
          {"rows", d.rows},       {"exact_rows", d.exact_rows}, {"warning_rows", d.warning_rows},
          {"findings", findings}, {"estimate", to_json(d.estimate)}};
}

}  // namespace pgblit::dryrun
