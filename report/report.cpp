// See report.hpp.
#include "report/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/units.hpp"

namespace pgblit::report {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\x{:02x}", c);  // a control character in a name: shown, never obeyed
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace

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

std::string render_html(const nlohmann::json& report) {
  const auto& run = report["run"];
  const auto& finished = report["finished"];
  const auto& chunks = report["chunks"];
  double t0 = run.value("at", 0.0), t1 = finished.value("at", t0);
  for (const auto& c : chunks) t1 = std::max(t1, c["finished_at"].get<double>());
  double span = std::max(t1 - t0, 0.001);
  int lanes = 1;
  for (const auto& c : chunks) lanes = std::max(lanes, c.value("lane", 1));
  const int width = 900, lane_height = 22;
  std::string bars;
  for (const auto& c : chunks) {
    double x = (c["started_at"].get<double>() - t0) / span * width;
    double w = std::max(1.0, (c["finished_at"].get<double>() - c["started_at"].get<double>()) / span * width);
    int y = (c.value("lane", 1) - 1) * lane_height;
    bool failed = !c.value("error", std::string()).empty();
    bars += fmt::format(R"(<rect class="chunk" x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"><title>{} chunk {}: {} rows, {} in {:.2f} s</title></rect>)",
                        x, y + 2, w, lane_height - 4, failed ? "#c0392b" : "#2e86c1",
                        escape(c["table"].get<std::string>()), c["chunk"].get<size_t>(), c["rows"].get<int64_t>(),
                        human_bytes(c["bytes"].get<double>()), c["seconds"].get<double>());
  }
  // Throughput over time: bytes of chunks finished, per tenth of the run.
  std::vector<double> buckets(10);
  for (const auto& c : chunks) {
    auto b = std::min<size_t>(9, static_cast<size_t>((c["finished_at"].get<double>() - t0) / span * 10));
    buckets[b] += c["bytes"].get<double>();
  }
  double peak = std::max(1.0, *std::max_element(buckets.begin(), buckets.end()));
  std::string points;
  for (size_t i = 0; i < buckets.size(); ++i) {
    points += fmt::format("{:.0f},{:.0f} ", (i + 0.5) * width / 10, 100 - buckets[i] / peak * 90);
  }
  std::string rows;
  for (const auto& t : report["tables"]) {
    rows += fmt::format("<tr class=\"table-row\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td>{}</td></tr>",
                        escape(t["table"].get<std::string>()), t["rows"].get<int64_t>(), human_bytes(t["bytes"].get<double>()),
                        t["chunks"].get<int64_t>(), t["mb_per_second"].get<double>(), t["rejected"].get<int64_t>());
  }
  std::string audit;
  auto audit_fields = run.value("audit", nlohmann::json::object());  // a copy: items() must not outlive it
  for (const auto& [key, value] : audit_fields.items()) {
    audit += fmt::format("<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(value.is_string() ? value.get<std::string>() : value.dump()));
  }
  int exit_code = finished.value("exit_code", -1);
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pgblit run {0}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; }} .ok {{ color: #1e8449; }} .bad {{ color: #c0392b; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
svg {{ background: #f7f9fb; border: 1px solid #ddd; }}
</style></head><body>
<h1>pgblit run {0}: <span class="{1}">{2}</span></h1>
<p>{3} tables, {4} chunks, {5} in {6:.1f} s. Exit code {7}. {8}</p>
<h2>Chunks per lane (the critical path)</h2>
<svg id="timeline" width="{9}" height="{10}" xmlns="http://www.w3.org/2000/svg">{11}</svg>
<h2>Throughput over time</h2>
<svg id="throughput" width="{9}" height="100" xmlns="http://www.w3.org/2000/svg"><polyline fill="none" stroke="#2e86c1" stroke-width="2" points="{12}"/></svg>
<h2>Tables</h2>
<table id="tables"><tr><th>table</th><th>rows</th><th>bytes</th><th>chunks</th><th>MB/s</th><th>rejected</th></tr>{13}</table>
<h2>Audit</h2>
<table id="audit">{14}</table>
</body></html>
)",
                     run.value("run_id", 0), exit_code == 0 ? "ok" : "bad",
                     exit_code == 0 ? "done, verified" : escape(finished.value("message", std::string("failed"))),
                     report["tables"].size(), chunks.size(),
                     human_bytes(finished.value("bytes", 0.0)), span, exit_code,
                     escape(finished.value("verdict", std::string())), width, lanes * lane_height, bars, points, rows,
                     audit);
}

}  // namespace pgblit::report
