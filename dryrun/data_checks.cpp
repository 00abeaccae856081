// See data_checks.hpp. The checks are built by check_builder.hpp; this runs them and sums
// their findings.
#include "dryrun/data_checks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>

#include "dryrun/check_builder.hpp"
#include "core/worker_pool.hpp"
#include "pg/session.hpp"

namespace pgblit::dryrun {
namespace {

using Clock = std::chrono::steady_clock;

// Runs the checks on up to `jobs` sessions of their own, all in the run's snapshot.
std::vector<Finding> run_checks(std::vector<Check>& checks, start::RunSetup& run, const CheckOptions& options) {
  std::vector<Finding> out(checks.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    Sessions sessions;
    for (size_t i = next++; i < checks.size(); i = next++) {
      auto& check = checks[i];
      auto& f = check.finding;
      auto started = Clock::now();
      try {
        if (!check.count) {
          out[i] = std::move(f);
          continue;
        }
        if (!sessions.source) {
          sessions.source.emplace(pg::open_session(options.source, "source"));
          pg::join_snapshot(*sessions.source, run.snapshot_id);
          if (options.timeout_seconds > 0) {
            sessions.source->exec(fmt::format("SET statement_timeout = {}", static_cast<int64_t>(options.timeout_seconds * 1000)));
          }
        }
        auto count = check.count(sessions);
        f.rows = static_cast<int64_t>(std::llround(static_cast<double>(count.rows) * check.scale));
        f.estimated = check.scale != 1;
        f.example = count.example;
      } catch (const Error& e) {
        bool timed_out = e.sqlstate() == kSqlstateQueryCanceled;
        if (check.on_source_only && !timed_out) {
          f.severity = Severity::Info;
          f.message = fmt::format("{}: not evaluated on the source ({}); the copy will test it row by row", f.message,
                                  e.what());
          f.fix = "";
        } else {
          f.severity = Severity::Error;
          f.message = fmt::format("the {} check did not run: {}", f.check,
                                  timed_out ? fmt::format("it took longer than --check-timeout {} s", options.timeout_seconds)
                                            : std::string(e.what()));
          f.fix = timed_out ? "raise --check-timeout, or sample with --checks fast"
                            : "give the source role what the check needs, or run the dry run as another role";
        }
        sessions = {};  // its snapshot transaction died with the failure: fresh sessions join again
      }
      f.seconds = std::chrono::duration<double>(Clock::now() - started).count();
      out[i] = std::move(f);
    }
  };
  run_workers(options.jobs, [&](int) { work(); });  // a check's failure is its finding
  return out;
}

}  // namespace

bool counted_exactly(const plan::TableCopy& table, bool exact_counts) {
  return exact_counts || table.estimated_rows < kCountedBelowRows || !table.filter.empty();
}

DataChecks run_data_checks(start::RunSetup& run, const CheckOptions& options) {
  auto checks = CheckBuilder(run, options).build();
  auto findings = run_checks(checks, run, options);
  DataChecks result;
  auto& out = result.findings;
  // Per table: the rows its predicate findings count, and how many distinct rows they are.
  std::map<const plan::TableCopy*, int64_t> counted, distinct;
  for (size_t i = 0; i < checks.size(); ++i) {
    const auto& f = findings[i];
    if (!checks[i].row_table) continue;
    if (checks[i].rows_with_warnings && f.severity == Severity::Info) distinct[checks[i].row_table] = f.rows;
    if (!checks[i].rows_with_warnings && f.severity == Severity::Warning) counted[checks[i].row_table] += f.rows;
  }
  for (const auto& [table, rows] : distinct) result.rows_counted_twice += std::max<int64_t>(0, counted[table] - rows);
  size_t filters = 0, empty_filters = 0;
  for (size_t i = 0; i < checks.size(); ++i) {
    auto& f = findings[i];
    if (checks[i].rows_with_warnings) continue;
    if (checks[i].counts_table != SIZE_MAX) {
      if (f.severity == Severity::Info) {
        run.plan.tables[checks[i].counts_table].estimated_rows = f.rows;
        continue;
      }
    }
    if (checks[i].finds_a_row && f.severity == Severity::Info) {
      ++filters;
      if (f.rows > 0) continue;  // it selects rows: nothing to say
      ++empty_filters;
    }
    if (f.check == "value map" && f.severity == Severity::Info && f.rows == 0) continue;  // the map covers them all
    out.push_back(std::move(f));
  }
  if (filters > 0 && empty_filters == filters) {
    out.push_back({Severity::Error, "filter", options.mapping ? options.mapping->file : "",
                   "the mapping's filters select no row of any table: the copy would copy nothing of them", -1, "",
                   "check the scope's value (its type and spelling) and the tables' where"});
  }
  return result;
}

}  // namespace pgblit::dryrun

