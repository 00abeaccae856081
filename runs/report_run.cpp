// See report_run.hpp.
#include "runs/report_run.hpp"

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "mover/run_catalog.hpp"
#include "pg/session.hpp"
#include "report/history.hpp"
#include "report/report.hpp"
#include "report/run_record.hpp"
#include "runs/status_run.hpp"

namespace pgblit::runs {

nlohmann::json report_history(const ReportOptions& options) {
  std::string job = options.job.empty() ? "" : std::filesystem::absolute(options.job).lexically_normal().string();
  auto history = report::history(report::recorded_runs(options.target, options.catalog_schema, job));
  if (history["runs"].empty()) {
    throw usage_error(job.empty() ? "the run catalog keeps no finished run's figures yet"
                                  : "no run of the job " + job + " is in the run catalog",
                      options.catalog_schema, "runs record their figures when they end (pgblit 0.1 and later)");
  }
  return history;
}

nlohmann::json report_of_run(const ReportOptions& options, int64_t run) {
  auto target = pg::open_session(options.target, "target");
  mover::RunCatalog catalog(target, options.catalog_schema);
  report::ReportBuilder builder;
  for (const auto& event : run_events(catalog, run)) builder.on_event(event);
  return builder.report();
}

nlohmann::json report_from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("cannot read " + path, path, "give the path of a run folder's report.json");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw usage_error(std::string("not a report.json: ") + e.what(), path, "give a run folder's report.json");
  }
}

}  // namespace pgblit::runs
