// See run_folder.hpp.
#include "report/run_folder.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/private_files.hpp"

namespace pgblit::report {

void write_file(const std::filesystem::path& file, const std::string& text) {
  auto temporary = file;
  temporary += ".tmp";
  make_private_file(temporary);
  {
    std::ofstream out(temporary);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, file);
}

RunFolder::RunFolder(std::filesystem::path base, std::function<void(const std::string&)> attach_log)
    : base_(std::move(base)), attach_log_(std::move(attach_log)) {}

std::filesystem::path RunFolder::path() const {
  std::lock_guard lock(mutex_);
  return dir_;
}

void RunFolder::open(const nlohmann::json& run_started) {
  std::string name = std::to_string(run_started["run_id"].get<int64_t>());
  if (run_started.value("joining", false)) name += fmt::format(".join-{}", getpid());
  // A resumed run goes on in its folder; another run of the same id (another target, or a
  // catalog made anew) gets a folder of its own.
  const auto& audit = run_started["audit"];
  std::string owner = fmt::format("{} {} {}", audit.value("target", nlohmann::json::object()).value("cluster", ""),
                                  audit.value("target", nlohmann::json::object()).value("database", ""),
                                  run_started.value("catalog_started_at", ""));
  for (int n = 2;; ++n) {
    dir_ = std::filesystem::absolute(base_ / name);
    std::ifstream marker(dir_ / "run");
    std::string seen((std::istreambuf_iterator<char>(marker)), std::istreambuf_iterator<char>());
    if (!marker || seen == owner) break;
    name = fmt::format("{}-{}", run_started["run_id"].get<int64_t>(), n);
  }
  // The run's folder and files are its owner's alone: the log and reports name tables and rows.
  std::error_code error;
  create_private_directories(dir_, error);
  if (error) throw std::runtime_error("cannot create " + dir_.string() + ": " + error.message());
  for (const char* file : {"run", "events.jsonl", "pgblit.log"}) make_private_file(dir_ / file);
  std::ofstream(dir_ / "run") << owner;
  events_.open(dir_ / "events.jsonl", std::ios::app);
  if (!events_) throw std::runtime_error("cannot write " + (dir_ / "events.jsonl").string());
  attach_log_((dir_ / "pgblit.log").string());
}

void RunFolder::on_event(const nlohmann::json& event) {
  builder_.on_event(event);
  std::lock_guard lock(mutex_);
  if (failed_) return;
  try {
    if (event["event"] == "run_started") open(event);
    if (!events_.is_open()) return;
    events_ << event.dump() << '\n' << std::flush;
    if (event["event"] == "run_finished") write_reports();
  } catch (const std::exception& e) {
    failed_ = true;
    spdlog::warn("the run folder {} cannot be written ({}); the run goes on without it", base_.string(), e.what());
  }
}

void RunFolder::write_reports() {
  auto report = builder_.report();
  write_file(dir_ / "report.json", report.dump(2));
  write_file(dir_ / "report.html", render_html(report));
  write_file(dir_ / "summary.txt", render_summary(report));
}

}  // namespace pgblit::report
