// The run's outcome and figures, kept in the run catalog beside the run (pgblit.runs.options:
// `exit_code`, `figures`), so that `pgblit status` and `pgblit report RUN_ID` say 3, 4 or 5
// rather than "failed", and `pgblit report --history` can lay the rehearsals side by side long
// after their run folders are gone. Written once, at run_finished, on a session of its own; a
// failure to write is warned about and never changes the run's outcome.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "report/report.hpp"

namespace pgblit::report {

class RunRecord : public EventSink {
 public:
  RunRecord(std::string target, std::string catalog_schema);
  void on_event(const nlohmann::json& event) override;

 private:
  std::string target_;
  std::string catalog_schema_;
  std::mutex mutex_;
  int64_t run_id_ = 0;  // 0: not started, or a joining worker (the coordinator records)
  ReportBuilder builder_;
};

// What the catalog keeps of a finished run's report (report.json): totals, each phase's
// duration, each table's rows, bytes and seconds; with the dry run's estimate, that estimate
// (total, range, phases) and `estimate_error` (report/kept_estimate.hpp); with --window, the
// window's seconds.
nlohmann::json run_figures(const nlohmann::json& report);

// The runs whose figures the catalog keeps, oldest first (id, started_at, exit_code, job,
// figures: what report/history.hpp takes); with `job_file` (an absolute path) only the runs
// of that job file.
std::vector<nlohmann::json> recorded_runs(const std::string& target, const std::string& catalog_schema,
                                          const std::string& job_file);

}  // namespace pgblit::report
