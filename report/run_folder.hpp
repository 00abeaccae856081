// The run folder: everything one run leaves for the people after it. Once the run has its id,
// `--run-dir`/RUN_ID/ (a joining worker: RUN_ID.join-PID) holds pgblit.log (the full log at
// debug level, whatever the console shows, from the process's first line), events.jsonl (every
// event as it happens), and at the end report.json and report.html. A folder that cannot be
// written is warned about once and never stops the run.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>

#include "report/report.hpp"

namespace pgblit::report {

class RunFolder : public EventSink {
 public:
  // `attach_log(path)` starts the debug log file once the folder exists.
  RunFolder(std::filesystem::path base, std::function<void(const std::string&)> attach_log);
  void on_event(const nlohmann::json& event) override;
  std::filesystem::path path() const;

 private:
  void open(const nlohmann::json& run_started);
  void write_reports();

  std::filesystem::path base_;
  std::function<void(const std::string&)> attach_log_;
  mutable std::mutex mutex_;
  std::filesystem::path dir_;
  std::ofstream events_;
  bool failed_ = false;
  ReportBuilder builder_;
};

// Writes `text` to `file` under a temporary name, then renames it into place.
void write_file(const std::filesystem::path& file, const std::string& text);

}  // namespace pgblit::report
