// See console.hpp.
#include "report/console.hpp"

#include <unistd.h>

#include <cstdio>

namespace pgblit::report {

Console& Console::instance() {
  static Console console;
  return console;
}

bool Console::is_terminal() { return isatty(STDERR_FILENO) == 1; }

void Console::erase_locked() {
  if (drawn_ == 0) return;
  // Up to the bar's first line, then clear to the end of the screen.
  std::fprintf(stderr, "\r");
  if (drawn_ > 1) std::fprintf(stderr, "\033[%zuA", drawn_ - 1);
  std::fprintf(stderr, "\033[J");
  drawn_ = 0;
}

void Console::write_line(const std::string& text) {
  std::lock_guard lock(mutex_);
  erase_locked();
  std::fwrite(text.data(), 1, text.size(), stderr);
  for (size_t i = 0; i < bar_.size(); ++i) std::fprintf(stderr, "%s%s", bar_[i].c_str(), i + 1 < bar_.size() ? "\n" : "");
  drawn_ = bar_.size();
  std::fflush(stderr);
}

void Console::draw(const std::vector<std::string>& bar) {
  std::lock_guard lock(mutex_);
  erase_locked();
  bar_ = bar;
  for (size_t i = 0; i < bar_.size(); ++i) std::fprintf(stderr, "%s%s", bar_[i].c_str(), i + 1 < bar_.size() ? "\n" : "");
  drawn_ = bar_.size();
  std::fflush(stderr);
}

void Console::clear() {
  std::lock_guard lock(mutex_);
  erase_locked();
  bar_.clear();
  std::fflush(stderr);
}

void ConsoleLogSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  Console::instance().write_line(std::string(formatted.data(), formatted.size()));
}

}  // namespace pgblit::report
