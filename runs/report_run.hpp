// `pgblit report`: a run's report read back, from its run folder's report.json or rebuilt from
// the run catalog on the target (status_run.hpp's run_events), and `--history`: the runs the
// catalog keeps side by side. Rendering and writing the HTML is the caller's (report/).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/defaults.hpp"

namespace pgblit::runs {

struct ReportOptions {
  std::string input;   // a run id (read from the catalog) or a report.json
  std::string output;  // the HTML file to write ("": the caller's default)
  std::string target;  // connection string, for a run id and --history
  std::string catalog_schema = kDefaultCatalogSchema;
  bool history = false;
  std::string job;  // with history: only the runs of this job file
};

// --history (report/history.hpp) of every run the catalog keeps, or only those of the job
// file; a usage error when there is none.
nlohmann::json report_history(const ReportOptions& options);
// The report of run `run`, rebuilt from its catalog rows (the chunks' lanes and times as recorded there).
nlohmann::json report_of_run(const ReportOptions& options, int64_t run);
// A run folder's report.json; a usage error when it cannot be read or is not JSON.
nlohmann::json report_from_file(const std::string& path);

}  // namespace pgblit::runs
