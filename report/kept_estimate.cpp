// See kept_estimate.hpp.
#include "report/kept_estimate.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "core/private_files.hpp"
#include "report/run_folder.hpp"

namespace pgblit::report {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::filesystem::path file_of(const std::filesystem::path& run_dir, const std::string& key) {
  return run_dir / "estimates" / (key + ".json");
}

}  // namespace

std::string estimate_key(const std::string& databases, std::vector<std::string> tables) {
  std::sort(tables.begin(), tables.end());
  std::string text = databases + "\n";
  for (const auto& t : tables) text += t + "\n";
  return fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()));
}

std::filesystem::path keep_estimate(const std::filesystem::path& run_dir, const std::string& key,
                                    const nlohmann::json& estimate, int jobs, const std::string& job_file) {
  auto file = std::filesystem::absolute(file_of(run_dir, key));
  std::error_code error;
  create_private_directories(file.parent_path(), error);  // names tables: the owner's alone
  if (error) throw std::runtime_error("cannot create " + file.parent_path().string() + ": " + error.message());
  auto now = std::chrono::system_clock::now();
  nlohmann::json kept = {{"key", key},
                         {"at", now_seconds()},
                         {"planned_at", fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(std::chrono::system_clock::to_time_t(now)))},
                         {"jobs", jobs},
                         {"job", job_file.empty() ? nlohmann::json() : nlohmann::json(job_file)},
                         {"estimate", estimate}};
  write_file(file, kept.dump(2));
  return file;
}

nlohmann::json kept_estimate(const std::filesystem::path& run_dir, const std::string& key) {
  auto file = file_of(run_dir, key);
  std::ifstream in(file);
  if (!in) return nullptr;
  try {
    auto kept = nlohmann::json::parse(in);
    const auto& e = kept.at("estimate");
    double age = now_seconds() - kept.at("at").get<double>();
    if (!e.value("measured", false) || age > kEstimateMaxAgeSeconds || age < -60) {
      spdlog::debug("the dry run's estimate in {} is {}: the run goes without one", file.string(),
                    e.value("measured", false) ? "too old" : "not measured");
      return nullptr;
    }
    const auto& p = e.at("phases");
    return {{"planned_at", kept.at("planned_at")},
            {"age_seconds", age},
            {"jobs", kept.at("jobs")},
            {"seconds", e.at("seconds")},
            {"low_seconds", e.at("low_seconds")},
            {"high_seconds", e.at("high_seconds")},
            {"basis", e.value("basis", "")},
            {"phases",
             {{"load", p.value("load", 0.0)},
              {"rebuild", p.value("indexes", 0.0) + p.value("foreign_keys", 0.0)},
              {"verify", p.value("verify", 0.0)},
              {"analyze", p.value("analyze", 0.0)}}},
            {"file", std::filesystem::absolute(file).string()}};
  } catch (const std::exception& error) {  // a damaged file is not worth failing a copy for
    spdlog::warn("the dry run's estimate in {} cannot be read ({}); the run goes without one", file.string(),
                 error.what());
    return nullptr;
  }
}

double estimate_error(double estimated_seconds, double actual_seconds) {
  return estimated_seconds > 0 ? (actual_seconds - estimated_seconds) / estimated_seconds : 0.0;
}

}  // namespace pgblit::report
