// The run's report: built from its events (so a report can be rendered again later from
// events.jsonl or report.json), written as report.json (schema in docs/events.md) and as
// report.html, one self-contained page (inline CSS and SVG; no script, font or network):
// the verdict, a per-lane timeline of chunks with a time axis and the phases as bands,
// throughput over time, the per-table table and the audit trail; and as summary.txt.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "core/events.hpp"

namespace pgblit::report {

class ReportBuilder : public EventSink {
 public:
  void on_event(const nlohmann::json& event) override;
  nlohmann::json report() const;

 private:
  mutable std::mutex mutex_;
  nlohmann::json started_ = nlohmann::json::object();
  nlohmann::json finished_ = nlohmann::json::object();
  std::vector<nlohmann::json> phases_;
  std::map<size_t, nlohmann::json> chunk_starts_;
  std::vector<nlohmann::json> chunks_;
};

// The HTML page of a report.json (report_html.cpp).
std::string render_html(const nlohmann::json& report);
// The same in plain text, for mail and chat: summary.txt.
std::string render_summary(const nlohmann::json& report);

}  // namespace pgblit::report
