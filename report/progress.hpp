// Live progress of a copy, from its events: on a terminal a bar redrawn in place (percent,
// bytes, MB/s, rows/s, elapsed, ETA, phase, pgblit's CPU and memory, one line per active
// lane), elsewhere one plain log line every --progress-interval seconds, or every event as a
// JSON line on stdout for dashboards (schema: docs/events.md).
//
// The ETA follows the chunk schedule, not a straight line: the bytes still to copy at the
// rate the lanes achieve together, but never less than the largest chunk not yet done needs
// at one lane's rate (the run cannot end before its longest chunk does).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/events.hpp"

namespace pgblit::report {

enum class ProgressMode { Bar, Log, Json, Off };

class Progress : public EventSink {
 public:
  Progress(ProgressMode mode, double log_interval_seconds);
  ~Progress() override;
  void on_event(const nlohmann::json& event) override;

 private:
  struct Active {
    int lane = 0;
    std::string table;
    int64_t estimated_bytes = 0;
    double started = 0;
  };
  void tick();
  std::vector<std::string> render_locked(double now) const;
  std::string summary_locked(double now) const;

  ProgressMode mode_;
  double interval_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stop_ = false;
  bool running_ = false;  // between run_started and run_finished
  double started_ = 0;
  std::string phase_ = "plan";
  int64_t planned_bytes_ = 0;   // estimated, heap + TOAST
  int64_t done_estimate_ = 0;   // estimated bytes of the chunks done
  int64_t bytes_ = 0;           // COPY stream bytes moved
  int64_t rows_ = 0;
  size_t chunks_ = 0;
  size_t chunks_done_ = 0;
  std::map<size_t, Active> active_;             // by chunk
  std::map<size_t, int64_t> pending_estimates_;  // chunk -> estimated bytes, to learn the largest left
  std::vector<std::string> server_lines_;        // what the target's progress views said last
  std::thread thread_;
};

}  // namespace pgblit::report
