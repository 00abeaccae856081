// See report.hpp.
#include "report/report.hpp"

#include <algorithm>
#include <map>

namespace pgblit::report {

void ReportBuilder::on_event(const nlohmann::json& event) {
  std::lock_guard lock(mutex_);
  const std::string& type = event["event"];
  if (type == "run_started") {
    started_ = event;
  } else if (type == "run_finished") {
    finished_ = event;
  } else if (type == "phase") {
    phases_.push_back(event);
  } else if (type == "chunk_started") {
    chunk_starts_[event["chunk"].get<size_t>()] = event;
  } else if (type == "chunk_finished") {
    size_t c = event["chunk"];
    auto start = chunk_starts_.find(c);
    if (event["skipped"].get<bool>()) return;
    nlohmann::json chunk = event;
    chunk.erase("event");
    chunk.erase("schema");
    chunk["finished_at"] = event["at"];
    chunk["started_at"] = start != chunk_starts_.end() ? start->second["at"] : event["at"];
    chunk["estimated_bytes"] = start != chunk_starts_.end() ? start->second["estimated_bytes"] : nlohmann::json(0);
    chunk.erase("at");
    chunks_.push_back(chunk);
  }
}

nlohmann::json ReportBuilder::report() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, nlohmann::json> tables;
  for (const auto& c : chunks_) {
    auto& t = tables[c["table"]];
    if (t.is_null()) t = {{"table", c["table"]}, {"rows", 0}, {"bytes", 0}, {"chunks", 0}, {"rejected", 0},
                          {"started_at", c["started_at"]}, {"finished_at", c["finished_at"]}};
    t["rows"] = t["rows"].get<int64_t>() + c["rows"].get<int64_t>();
    t["bytes"] = t["bytes"].get<int64_t>() + c["bytes"].get<int64_t>();
    t["chunks"] = t["chunks"].get<int64_t>() + 1;
    t["rejected"] = t["rejected"].get<int64_t>() + c["rejected"].get<int64_t>();
    t["started_at"] = std::min(t["started_at"].get<double>(), c["started_at"].get<double>());
    t["finished_at"] = std::max(t["finished_at"].get<double>(), c["finished_at"].get<double>());
  }
  nlohmann::json table_list = nlohmann::json::array();
  for (auto& [name, t] : tables) {
    double seconds = t["finished_at"].get<double>() - t["started_at"].get<double>();
    t["mb_per_second"] = seconds > 0 ? t["bytes"].get<double>() / seconds / 1e6 : 0.0;
    table_list.push_back(t);
  }
  return {{"schema", kEventsVersion},
          {"run", started_},
          {"finished", finished_},
          {"phases", phases_},
          {"tables", table_list},
          {"chunks", chunks_}};
}

}  // namespace pgblit::report
