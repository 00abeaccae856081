// `copy --metrics-file PATH`: the run's figures in the Prometheus text exposition format, for
// the monitoring a nightly job already has (node_exporter's textfile collector, a push to a
// Pushgateway, a Telegraf file input). Built from the run's events like the other sinks and
// written whole, under a temporary name then renamed, when the sink opens, on every
// --progress-interval tick while the run goes, and at the end, so a scraper never reads half a
// file. Metric names: docs/events.md ("Metrics file").
#pragma once

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/events.hpp"

namespace pgblit::report {

class MetricsFile : public EventSink {
 public:
  // Writes the first version of the file at once: a path that cannot be written is refused
  // (exit 2) before anything is copied.
  MetricsFile(std::filesystem::path path, double interval_seconds);
  ~MetricsFile() override;
  void on_event(const nlohmann::json& event) override;
  // The command's exit code, whatever ended it (also a failure before the run had an id).
  void finish(int exit_code);
  // Labels every series with the job file's path (`job="..."`).
  void set_job(const std::string& job);

  // The file's text now (also what tests compare against).
  std::string render() const;

 private:
  std::string render_locked(double now) const;
  void write_locked(double now);
  void tick();

  std::filesystem::path path_;
  double interval_;
  mutable std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stop_ = false;
  bool warned_ = false;
  std::string job_;
  double opened_ = 0;
  int64_t run_id_ = 0;
  int jobs_ = 0;
  int64_t tables_ = 0;
  int64_t planned_bytes_ = 0;
  double estimate_seconds_ = 0;  // the dry run's, 0: none
  double window_seconds_ = 0;    // --window, 0: none
  int64_t chunks_total_ = 0;
  int64_t chunks_done_ = 0;
  int64_t chunks_failed_ = 0;
  int64_t rows_ = 0;
  int64_t bytes_ = 0;
  int64_t rejected_ = 0;
  std::string phase_ = "plan";
  double phase_started_ = 0;
  std::map<std::string, double> phase_seconds_;  // phases that ended, and plan before the run
  std::optional<double> finished_at_;
  std::optional<int> exit_code_;
  std::thread thread_;
};

}  // namespace pgblit::report
