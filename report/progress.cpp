// See progress.hpp.
#include "report/progress.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/printable.hpp"
#include "core/units.hpp"
#include "report/console.hpp"

namespace pgblit::report {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// pgblit's own CPU seconds and resident memory, from /proc.
std::pair<double, int64_t> own_usage() {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double cpu = 0;
  if (auto close = text.rfind(')'); close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 0; i < 13 && fields >> f; ++i) {
      if (i == 11) utime = std::stol(f);
      if (i == 12) stime = std::stol(f);
    }
    cpu = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return {cpu, resident * sysconf(_SC_PAGESIZE)};
}

}  // namespace

Progress::Progress(ProgressMode mode, double log_interval_seconds) : mode_(mode), interval_(log_interval_seconds) {
  if (mode_ == ProgressMode::Bar || mode_ == ProgressMode::Log) thread_ = std::thread([this] { tick(); });
}

Progress::~Progress() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (mode_ == ProgressMode::Bar) Console::instance().clear();
}

void Progress::on_event(const nlohmann::json& event) {
  if (mode_ == ProgressMode::Json) {
    std::cout << event.dump() << std::endl;
    return;
  }
  if (event["event"] == "server_progress" && mode_ != ProgressMode::Bar) return;
  std::lock_guard lock(mutex_);
  const std::string& type = event["event"];
  double at = event["at"];
  if (type == "run_started") {
    running_ = true;
    started_ = at;
    planned_bytes_ = event["planned_bytes"];
    chunks_ = event["chunks"];
    chunks_done_ = event["chunks_done_before"];
  } else if (type == "phase") {
    phase_ = event["phase"];
  } else if (type == "chunk_started") {
    size_t chunk = event["chunk"];
    active_[chunk] = {event["lane"], event["table"], event["estimated_bytes"], at};
    pending_estimates_.erase(chunk);
  } else if (type == "chunk_finished") {
    size_t chunk = event["chunk"];
    auto it = active_.find(chunk);
    if (!event["skipped"].get<bool>() && event["error"].get<std::string>().empty()) {
      ++chunks_done_;
      bytes_ += event["bytes"].get<int64_t>();
      rows_ += event["rows"].get<int64_t>();
      if (it != active_.end()) done_estimate_ += it->second.estimated_bytes;
    }
    if (it != active_.end()) active_.erase(it);
  } else if (type == "run_finished") {
    running_ = false;
  } else if (type == "server_progress") {
    server_lines_.clear();
    for (const auto& c : event["copy"]) {
      server_lines_.push_back(fmt::format("  target: COPY into {}: {}, {} rows", printable(c.value("table", "?")),
                                          human_bytes(c.value("bytes", 0.0)), c.value("rows", 0)));
    }
    for (const auto& i : event["create_index"]) {
      double total = i.value("blocks_total", 0.0), done = i.value("blocks_done", 0.0);
      server_lines_.push_back(fmt::format("  target: CREATE INDEX {}: {}{}", printable(i.value("index", "?")),
                                          i.value("phase", std::string()),
                                          total > 0 ? fmt::format(" ({:.0f}%)", 100 * done / total) : ""));
    }
  }
}

std::string Progress::summary_locked(double now) const {
  double elapsed = now - started_;
  double share = planned_bytes_ > 0 ? std::min(1.0, static_cast<double>(done_estimate_) / planned_bytes_) : 0;
  // The schedule's ETA: what is left at the lanes' joint rate, but no less than the largest
  // chunk left at one lane's rate.
  std::string eta = "-";
  if (done_estimate_ > 0 && elapsed > 0) {
    double rate = done_estimate_ / elapsed;
    double left = static_cast<double>(planned_bytes_ - done_estimate_) / rate;
    int64_t largest = 0;
    for (const auto& [chunk, a] : active_) largest = std::max(largest, a.estimated_bytes);
    double lanes = std::max<double>(1, static_cast<double>(active_.size()));
    left = std::max(left, static_cast<double>(largest) / (rate / lanes));
    eta = phase_ == "load" ? human_duration(left) : "-";
  }
  auto [cpu, memory] = own_usage();
  return fmt::format("{:3.0f}% of about {} | {} copied | {} | {:.0f} rows/s | {} of {} chunks | elapsed {} | ETA {} | "
                     "{} | pgblit {:.0f}% CPU, {}",
                     share * 100, human_bytes(static_cast<double>(planned_bytes_)),
                     human_bytes(static_cast<double>(bytes_)),
                     human_rate(static_cast<double>(bytes_), elapsed), elapsed > 0 ? rows_ / elapsed : 0.0,
                     chunks_done_, chunks_, human_duration(elapsed), eta, phase_, elapsed > 0 ? 100 * cpu / elapsed : 0.0,
                     human_bytes(static_cast<double>(memory)));
}

std::vector<std::string> Progress::render_locked(double now) const {
  double share = planned_bytes_ > 0 ? std::min(1.0, static_cast<double>(done_estimate_) / planned_bytes_) : 0;
  int width = 30, filled = static_cast<int>(share * width);
  std::vector<std::string> lines{"[" + std::string(filled, '#') + std::string(width - filled, '-') + "] " +
                                 summary_locked(now)};
  for (const auto& [chunk, a] : active_) {
    lines.push_back(fmt::format("  lane {}: {} chunk {} (about {}), {}", a.lane, printable(a.table), chunk,
                                human_bytes(static_cast<double>(a.estimated_bytes)), human_duration(now - a.started)));
  }
  lines.insert(lines.end(), server_lines_.begin(), server_lines_.end());
  return lines;
}

void Progress::tick() {
  double last_log = now_seconds();
  for (;;) {
    std::unique_lock lock(mutex_);
    double wait = mode_ == ProgressMode::Bar ? 0.25 : 1.0;
    if (stop_requested_.wait_for(lock, std::chrono::duration<double>(wait), [&] { return stop_; })) return;
    if (!running_) continue;
    double now = now_seconds();
    if (mode_ == ProgressMode::Bar) {
      auto lines = render_locked(now);
      lock.unlock();
      Console::instance().draw(lines);
    } else if (now - last_log >= interval_) {
      last_log = now;
      auto line = summary_locked(now);
      lock.unlock();
      spdlog::info("progress: {}", line);
    }
  }
}

}  // namespace pgblit::report
