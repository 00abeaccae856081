// See run_record.hpp.
#include "report/run_record.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "pg/session.hpp"
#include "pg/sql.hpp"
#include "report/kept_estimate.hpp"

namespace pgblit::report {

nlohmann::json run_figures(const nlohmann::json& report) {
  const auto& run = report["run"];
  const auto& finished = report["finished"];
  double start = run.value("at", 0.0), end = finished.value("at", start);
  nlohmann::json phases = nlohmann::json::object();
  const auto& list = report["phases"];
  for (size_t i = 0; i < list.size(); ++i) {
    double from = list[i]["at"], to = i + 1 < list.size() ? list[i + 1]["at"].get<double>() : end;
    std::string name = list[i].value("phase", "?");
    phases[name] = phases.value(name, 0.0) + std::max(0.0, to - from);
  }
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& t : report["tables"]) {
    tables[t["table"].get<std::string>()] = {
        {"rows", t["rows"]}, {"bytes", t["bytes"]},
        {"seconds", t["finished_at"].get<double>() - t["started_at"].get<double>()}};
  }
  nlohmann::json figures = {{"seconds", end - start},
          {"rows", finished.value("rows", int64_t{0})},
          {"bytes", finished.value("bytes", int64_t{0})},
          {"planned_bytes", run.value("planned_bytes", int64_t{0})},
          {"rejected", finished.value("rejected", int64_t{0})},
          {"chunks", run.value("chunks", int64_t{0})},
          {"jobs", run.value("jobs", 0)},
          {"phases", phases},
          {"tables", tables}};
  // What the dry run said beforehand, and how far off it was; the window the run was given.
  if (const auto& e = run.value("estimate", nlohmann::json()); e.is_object()) {
    figures["estimate"] = {{"seconds", e["seconds"]}, {"low_seconds", e["low_seconds"]},
                           {"high_seconds", e["high_seconds"]}, {"phases", e["phases"]},
                           {"planned_at", e["planned_at"]}};
    figures["estimate_error"] = estimate_error(e["seconds"].get<double>(), end - start);
  }
  if (run.value("window_seconds", nlohmann::json()).is_number()) figures["window_seconds"] = run["window_seconds"];
  return figures;
}

RunRecord::RunRecord(std::string target, std::string catalog_schema)
    : target_(std::move(target)), catalog_schema_(std::move(catalog_schema)) {}

void RunRecord::on_event(const nlohmann::json& event) {
  builder_.on_event(event);
  std::lock_guard lock(mutex_);
  if (event["event"] == "run_started") run_id_ = event.value("joining", false) ? 0 : event.value("run_id", int64_t{0});
  if (event["event"] != "run_finished" || run_id_ == 0) return;
  try {
    auto target = pg::open_session(target_, "target");
    target.exec_params(fmt::format("UPDATE {}.runs SET options = options || jsonb_build_object('exit_code', $2::int, "
                                   "'figures', $3::jsonb) WHERE id = $1",
                                   pg::quote_ident(catalog_schema_)),
                       {std::to_string(run_id_), std::to_string(event.value("exit_code", 1)),
                        run_figures(builder_.report()).dump()},
                       catalog_schema_ + ".runs");
  } catch (const std::exception& e) {
    spdlog::warn("run {}'s exit code and figures could not be kept in the run catalog ({}); the run's outcome "
                 "stands",
                 run_id_, e.what());
  }
}

std::vector<nlohmann::json> recorded_runs(const std::string& target, const std::string& catalog_schema,
                                          const std::string& job_file) {
  auto conn = pg::open_session(target, "target");
  auto r = conn.exec_params(
      fmt::format("SELECT jsonb_build_object('id', id, 'started_at', to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'), "
                  "'exit_code', options -> 'exit_code', 'job', options -> 'audit' -> 'job', 'figures', "
                  "options -> 'figures')::text FROM {}.runs WHERE options ? 'figures' "
                  "AND ($1::text IS NULL OR options -> 'audit' -> 'job' ->> 'file' = $1) ORDER BY id",
                  pg::quote_ident(catalog_schema)),
      {job_file.empty() ? std::nullopt : std::optional(job_file)}, catalog_schema + ".runs");
  std::vector<nlohmann::json> runs;
  for (int i = 0; i < r.rows(); ++i) runs.push_back(nlohmann::json::parse(r.text(i, 0)));
  return runs;
}

}  // namespace pgblit::report
