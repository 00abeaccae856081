// --on-event CMD: a team's own notifications (chat, pager, dashboard). On run_started, every
// phase change, run_finished and follow_lag (a following run's lag), CMD runs through /bin/sh with the event in the environment
// (PGBLIT_EVENT, PGBLIT_RUN_ID, PGBLIT_PHASE, PGBLIT_EXIT_CODE) and as JSON on its standard
// input. Hooks run one at a time on a thread of their own, so a slow hook never slows the
// copy; one that fails is logged, one that runs past its timeout is killed and logged, and
// neither ever stops the run. At exit, the hooks still queued or running get one timeout in
// all; those left then are stopped or skipped, and the log says which.
//
// A hook's environment is pgblit's, without secrets: no PGPASSWORD, SOURCE_DATABASE_URL and
// TARGET_DATABASE_URL without their passwords (as key=value strings), and no variable that
// holds a password pgblit was given.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/events.hpp"

namespace pgblit::report {

// The environment a hook runs with: `environment` (NAME=value entries) without secrets.
std::vector<std::string> hook_environment(char** environment);

class Hooks : public EventSink {
 public:
  Hooks(std::string command, double timeout_seconds);
  ~Hooks() override;  // runs what is queued (each within its timeout), then returns
  void on_event(const nlohmann::json& event) override;

 private:
  void serve();
  void run(const nlohmann::json& event);

  std::string command_;
  double timeout_;
  int64_t run_id_ = 0;
  std::string phase_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<nlohmann::json> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point exit_deadline_;  // set when stopping_
  std::thread thread_;
};

}  // namespace pgblit::report
