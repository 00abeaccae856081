// See metrics.hpp.
#include "report/metrics.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.hpp"

namespace pgblit::report {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A label value in the exposition format: backslash, double quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Replaces `path` with `text` whole: written beside it under a temporary name, then renamed.
// Readable by others (0644): a collector usually runs as another user, and the file holds
// counts, never names or rows.
void replace_file(const std::filesystem::path& path, const std::string& text) {
  std::string temporary = path.string() + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", temporary, std::strerror(errno)));
  bool ok = true;
  for (size_t done = 0; ok && done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(saved)));
  }
}

}  // namespace

MetricsFile::MetricsFile(std::filesystem::path path, double interval_seconds)
    : path_(std::move(path)), interval_(interval_seconds), opened_(now_seconds()), phase_started_(opened_) {
  try {
    replace_file(path_, render_locked(opened_));
  } catch (const std::exception& e) {
    throw usage_error(std::string(e.what()) + "; nothing was copied", path_.string(),
                      "give --metrics-file a path in a folder that exists and that this user may write");
  }
  thread_ = std::thread([this] { tick(); });
}

MetricsFile::~MetricsFile() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsFile::set_job(const std::string& job) {
  std::lock_guard lock(mutex_);
  job_ = job;
}

void MetricsFile::on_event(const nlohmann::json& event) {
  const std::string& type = event["event"];
  if (type == "server_progress") return;
  std::lock_guard lock(mutex_);
  double at = event["at"];
  if (type == "run_started") {
    run_id_ = event.value("run_id", int64_t{0});
    jobs_ = event.value("jobs", 0);
    tables_ = event.value("tables", int64_t{0});
    planned_bytes_ = event.value("planned_bytes", int64_t{0});
    chunks_total_ = event.value("chunks", int64_t{0});
    chunks_done_ = event.value("chunks_done_before", int64_t{0});
    if (event.value("estimate", nlohmann::json()).is_object()) estimate_seconds_ = event["estimate"].value("seconds", 0.0);
    if (event.value("window_seconds", nlohmann::json()).is_number()) window_seconds_ = event["window_seconds"];
  } else if (type == "phase") {
    phase_seconds_[phase_] += at - phase_started_;
    phase_ = event["phase"];
    phase_started_ = at;
  } else if (type == "chunk_finished") {
    if (!event.value("error", std::string()).empty()) {
      ++chunks_failed_;
    } else if (!event.value("skipped", false)) {
      ++chunks_done_;
      rows_ += event.value("rows", int64_t{0});
      bytes_ += event.value("bytes", int64_t{0});
      rejected_ += event.value("rejected", int64_t{0});
    }
  } else if (type == "run_finished") {
    phase_seconds_[phase_] += at - phase_started_;
    phase_started_ = at;
    finished_at_ = at;
    exit_code_ = event.value("exit_code", 1);
    write_locked(at);
  }
}

void MetricsFile::finish(int exit_code) {
  std::lock_guard lock(mutex_);
  double now = now_seconds();
  if (!finished_at_) {  // ended before run_finished: a failure before the run had its id
    phase_seconds_[phase_] += now - phase_started_;
    finished_at_ = now;
  }
  exit_code_ = exit_code;
  write_locked(now);
}

void MetricsFile::tick() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    stop_requested_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stop_; });
    if (!stop_ && !finished_at_) write_locked(now_seconds());
  }
}

void MetricsFile::write_locked(double now) {
  try {
    replace_file(path_, render_locked(now));
  } catch (const std::exception& e) {  // the copy goes on: monitoring is not worth a failed move
    if (!warned_) spdlog::warn("the metrics file cannot be written ({}); the run goes on without it", e.what());
    warned_ = true;
  }
}

std::string MetricsFile::render() const {
  std::lock_guard lock(mutex_);
  return render_locked(now_seconds());
}

std::string MetricsFile::render_locked(double now) const {
  std::string labels = job_.empty() ? "" : fmt::format("pgblit_job=\"{}\"", label_value(job_));
  auto with = [&](const std::string& extra) {
    std::string all = labels.empty() ? extra : extra.empty() ? labels : labels + "," + extra;
    return all.empty() ? std::string() : "{" + all + "}";
  };
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, auto value, const std::string& extra = {}) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{} {}\n", name, help, name, type, name, with(extra), value);
  };
  metric("pgblit_run_id", "gauge", "The run's id in the target's run catalog (0 before it has one).", run_id_);
  metric("pgblit_run_running", "gauge", "1 while the copy runs, 0 once it ended.", finished_at_ ? 0 : 1);
  if (exit_code_) metric("pgblit_run_exit_code", "gauge", "The command's exit code (docs/exit-codes.md).", *exit_code_);
  double end = finished_at_.value_or(now);
  metric("pgblit_run_duration_seconds", "gauge", "Seconds from the command's start to its end, or to now.",
         fmt::format("{:.3f}", end - opened_));
  if (estimate_seconds_ > 0) {
    metric("pgblit_estimate_seconds", "gauge", "The dry run's estimate of the run's duration (pgblit plan before it).",
           fmt::format("{:.3f}", estimate_seconds_));
  }
  if (window_seconds_ > 0) {
    metric("pgblit_window_seconds", "gauge", "The downtime window the run was given (--window).",
           fmt::format("{:.3f}", window_seconds_));
  }
  metric("pgblit_jobs", "gauge", "Lanes (-j) of the run.", jobs_);
  metric("pgblit_tables", "gauge", "Tables the run copies.", tables_);
  metric("pgblit_planned_bytes", "gauge", "Estimated size of the selected tables (heap and TOAST), in bytes.",
         planned_bytes_);
  metric("pgblit_chunks_total", "gauge", "Chunks the run is split into.", chunks_total_);
  metric("pgblit_chunks_done", "gauge", "Chunks committed on the target, by this run or before a resume.", chunks_done_);
  metric("pgblit_chunk_failures_total", "counter", "Chunk attempts that failed (each rolled back).", chunks_failed_);
  metric("pgblit_rows_copied_total", "counter", "Rows committed on the target by this process.", rows_);
  metric("pgblit_bytes_copied_total", "counter", "COPY stream bytes committed on the target by this process.", bytes_);
  metric("pgblit_rows_rejected_total", "counter", "Rows the target refused, set aside in the rejects files.", rejected_);
  out += "# HELP pgblit_phase_duration_seconds Seconds spent in each phase (plan, load, rebuild, verify, sequences, "
         "analyze); the current one up to now.\n# TYPE pgblit_phase_duration_seconds gauge\n";
  auto phases = phase_seconds_;
  if (!finished_at_) phases[phase_] += now - phase_started_;
  for (const auto& [phase, seconds] : phases) {
    out += fmt::format("pgblit_phase_duration_seconds{} {:.3f}\n", with(fmt::format("phase=\"{}\"", label_value(phase))),
                       seconds);
  }
  metric("pgblit_metrics_updated_timestamp_seconds", "gauge", "When this file was written (Unix time).",
         fmt::format("{:.3f}", now));
  return out;
}

}  // namespace pgblit::report
