// The terminal pgblit writes to (stderr): log lines and, on a terminal, the progress bar share
// it. A log line clears the bar, prints, and the bar is drawn again below it, so the log
// never scrolls the bar away and the bar never tears a log line.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <vector>

namespace pgblit::report {

class Console {
 public:
  static Console& instance();
  void write_line(const std::string& text);           // a log line (ends with a newline)
  void draw(const std::vector<std::string>& bar);     // replaces the bar
  void clear();                                       // removes the bar
  static bool is_terminal();

 private:
  void erase_locked();
  std::mutex mutex_;
  std::vector<std::string> bar_;
  size_t drawn_ = 0;  // lines of bar on the screen
};

// The console's spdlog sink.
class ConsoleLogSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}
};

}  // namespace pgblit::report
