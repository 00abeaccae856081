// report.html and summary.txt: what a DBA brings to the go/no-go meeting, from a report.json.
// The page reads top-down as the meeting asks: the verdict first (done, verified, differs,
// rejects, failed; the exit code; how long; the downtime used against the window, flagged when
// over; the dry run's estimate against the actual time), then where the time went (a timeline
// with a time axis: one row per lane, chunks coloured by table, then one band per phase, so the
// rebuild, verification and ANALYZE after the load show as time of their own), each phase's
// estimated and actual time, throughput in MB/s, each table's figures, and the audit as a
// readable table. One self-contained file: inline CSS and SVG, no script, font or network.
// summary.txt says the same in plain text for mail and chat.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/printable.hpp"
#include "core/units.hpp"
#include "report/html_escape.hpp"
#include "report/kept_estimate.hpp"
#include "report/report.hpp"

namespace pgblit::report {
namespace {

// Distinct hues for tables; beyond ten they repeat (the legend and tooltips still name them).
const char* kTableColours[] = {"#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b",
                               "#16a085", "#d35400", "#2c3e50", "#f1c40f", "#7f8c8d"};
const std::map<std::string, const char*> kPhaseColours = {{"load", "#aed6f1"},      {"rebuild", "#f5cba7"},
                                                          {"verify", "#abebc6"},    {"sequences", "#d7bde2"},
                                                          {"analyze", "#f9e79f"}};

// The outcome in the meeting's words, from the exit code (docs/exit-codes.md).
struct Verdict {
  std::string word;   // done, verified / differs / ...
  std::string tone;   // ok, warn, bad
};
Verdict verdict_of(const nlohmann::json& finished) {
  if (!finished.contains("exit_code")) return {"unfinished (no end recorded)", "bad"};
  switch (finished.value("exit_code", 1)) {
    case 0:
      if (!finished.contains("verdict")) return {"done", "ok"};  // drawn from the catalog: no verdict kept
      return finished.value("verdict", std::string()).starts_with("Verified") ? Verdict{"done, verified", "ok"}
                                                                               : Verdict{"done, not verified", "warn"};
    case 3: return {"differs: verification found rows that differ", "bad"};
    case 4: return {"done, with rejected rows set aside", "warn"};
    case 5: return {"no-go", "bad"};
    default: return {"failed", "bad"};
  }
}

// A clock reading for axes and durations: "0.8 s" under a minute, else m:ss / h:mm:ss.
std::string clock(double seconds) {
  return seconds < 60 ? fmt::format("{:.1f} s", seconds) : human_duration(seconds);
}

// A tick step of 1, 2 or 5 times a power of ten giving about six ticks over `span`.
double tick_step(double span) {
  double raw = span / 6, power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

struct Phase {
  std::string name;
  double start, end;
};
std::vector<Phase> phases_of(const nlohmann::json& report, double end) {
  std::vector<Phase> out;
  const auto& phases = report["phases"];
  for (size_t i = 0; i < phases.size(); ++i) {
    double start = phases[i]["at"].get<double>();
    double stop = i + 1 < phases.size() ? phases[i + 1]["at"].get<double>() : end;
    out.push_back({phases[i].value("phase", std::string("?")), start, std::max(start, stop)});
  }
  return out;
}

// The run's first and last moments: its start event, its end, and any chunk outside them.
std::pair<double, double> span_of(const nlohmann::json& report) {
  double t0 = report["run"].value("at", 0.0), t1 = report["finished"].value("at", t0);
  for (const auto& c : report["chunks"]) {
    t0 = std::min(t0, c["started_at"].get<double>());
    t1 = std::max(t1, c["finished_at"].get<double>());
  }
  return {t0, std::max(t1, t0 + 0.001)};
}

// The downtime the run used against the window it was given (--window), or "" without one.
struct WindowUse {
  std::string sentence;
  bool over = false;
};
WindowUse window_use(const nlohmann::json& run, double used) {
  const auto window = run.value("window_seconds", nlohmann::json());
  if (!window.is_number() || window.get<double>() <= 0) return {};
  double w = window.get<double>();
  if (used > w) {
    return {fmt::format("Over the window: downtime used {} of a {} window, {} too long ({:.0f}% of it).", clock(used),
                        clock(w), clock(used - w), used / w * 100),
            true};
  }
  return {fmt::format("Within the window: downtime used {} of the {} window ({:.0f}%), {} to spare.", clock(used),
                      clock(w), used / w * 100, clock(w - used)),
          false};
}

// "+12%": how much longer (or, negative, shorter) the run was than the estimate.
std::string signed_percent(double share) { return fmt::format("{:+.0f}%", share * 100); }

// The dry run's estimate against the run's time, or "" when the copy had none.
std::string estimate_sentence(const nlohmann::json& run, double used) {
  const auto e = run.value("estimate", nlohmann::json());
  if (!e.is_object()) {
    return "No dry-run estimate to compare with: run pgblit plan (same job or selection, same --run-dir) before the "
           "copy.";
  }
  double seconds = e["seconds"];
  int jobs = e.value("jobs", 0), lanes = run.value("jobs", 0);
  return fmt::format("The dry run of {} estimated {} ({} to {}); the run took {}: {} against the estimate{}.",
                     e.value("planned_at", std::string("?")), clock(seconds), clock(e.value("low_seconds", 0.0)),
                     clock(e.value("high_seconds", 0.0)), clock(used), signed_percent(estimate_error(seconds, used)),
                     jobs != lanes && jobs > 0 ? fmt::format(" (measured for {} lanes; this run had {})", jobs, lanes) : "");
}

// Each phase's time beside the estimate's (where it has the phase): name, estimated (< 0:
// none), actual.
struct PhaseTimes {
  std::string name;
  double estimated, actual;
  bool ran = true;  // false: estimated, but done while loading (every rebuild finished with its table)
};
std::vector<PhaseTimes> phase_times(const nlohmann::json& report, double end);

// The audit's nested objects (source, target, job) flattened into dotted rows.
void flatten(const nlohmann::json& value, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) flatten(item, prefix.empty() ? key : prefix + "." + key, out);
  } else {
    out.emplace_back(prefix, value.is_string() ? value.get<std::string>() : value.dump());
  }
}

std::vector<PhaseTimes> phase_times(const nlohmann::json& report, double end) {
  const auto e = report["run"].value("estimate", nlohmann::json());
  std::vector<PhaseTimes> out;
  for (const auto& p : phases_of(report, end)) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.name == p.name; });
    if (it == out.end()) {
      double estimated = e.is_object() && e["phases"].contains(p.name) ? e["phases"][p.name].get<double>() : -1;
      out.push_back({p.name, estimated, 0});
      it = std::prev(out.end());
    }
    it->actual += p.end - p.start;
  }
  if (e.is_object()) {  // a phase estimated but not run (nothing was deferred: no rebuild)
    for (const auto& [name, seconds] : e["phases"].items()) {
      bool ran = std::any_of(out.begin(), out.end(), [&](const auto& o) { return o.name == name; });
      if (!ran && seconds.get<double>() > 0) out.push_back({name, seconds.get<double>(), 0, false});
    }
  }
  return out;
}

std::string timeline(const nlohmann::json& report, const std::map<std::string, size_t>& table_index) {
  auto [t0, t1] = span_of(report);
  double span = t1 - t0;
  const auto& chunks = report["chunks"];
  int lanes = 1;
  for (const auto& c : chunks) lanes = std::max(lanes, c.value("lane", 1));
  auto phases = phases_of(report, t1);
  const int left = 80, width = 860, row = 22, axis = 28;
  int height = (lanes + static_cast<int>(phases.size())) * row + axis + 8;
  auto x_of = [&](double at) { return left + (at - t0) / span * width; };
  std::string svg;
  for (int lane = 1; lane <= lanes; ++lane) {
    svg += fmt::format(R"(<text class="lane-label" x="4" y="{}">lane {}</text>)", (lane - 1) * row + 15, lane);
  }
  for (const auto& c : chunks) {
    std::string table = c["table"];
    double x = x_of(c["started_at"].get<double>());
    double w = std::max(1.0, x_of(c["finished_at"].get<double>()) - x);
    int y = (c.value("lane", 1) - 1) * row;
    bool failed = !c.value("error", std::string()).empty();
    svg += fmt::format(
        R"(<rect class="chunk" x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"{}><title>{} chunk {}: {} rows, {} in {}{}</title></rect>)",
        x, y + 2, w, row - 4, kTableColours[table_index.at(table) % 10], failed ? R"( stroke="#000" stroke-dasharray="3")" : "",
        html_escape(table), c["chunk"].get<size_t>(), c["rows"].get<int64_t>(), human_bytes(c["bytes"].get<double>()),
        clock(c["seconds"].get<double>()), failed ? ", failed: " + html_escape(c["error"].get<std::string>()) : "");
  }
  for (size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    int y = (lanes + static_cast<int>(i)) * row;
    auto colour = kPhaseColours.contains(p.name) ? kPhaseColours.at(p.name) : "#ddd";
    svg += fmt::format(R"(<text class="phase-label" x="4" y="{}">{}</text>)", y + 15, html_escape(p.name));
    svg += fmt::format(
        R"(<rect class="phase" x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"><title>{}: {}</title></rect>)",
        x_of(p.start), y + 2, std::max(1.0, x_of(p.end) - x_of(p.start)), row - 4, colour, html_escape(p.name),
        clock(p.end - p.start));
  }
  int axis_y = (lanes + static_cast<int>(phases.size())) * row + 4;
  svg += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555"/>)", left, axis_y, left + width, axis_y);
  double step = tick_step(span);
  for (double t = 0; t <= span + step * 0.01; t += step) {
    double x = x_of(t0 + t);
    svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#555"/><line x1="{0:.1f}" y1="0" x2="{0:.1f}" y2="{1}" stroke="#e3e6ea"/>)",
                       x, axis_y, axis_y + 5);
    svg += fmt::format(R"(<text class="tick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", x, axis_y + 18,
                       clock(t));
  }
  return fmt::format(R"(<svg id="timeline" width="{}" height="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>)",
                     left + width + 20, height, svg);
}

// Throughput over time in MB/s: bytes of the chunks finished in each tenth of the run.
std::string throughput(const nlohmann::json& report) {
  auto [t0, t1] = span_of(report);
  double span = t1 - t0, bucket_seconds = span / 10;
  std::vector<double> mb_per_second(10);
  for (const auto& c : report["chunks"]) {
    auto b = std::min<size_t>(9, static_cast<size_t>((c["finished_at"].get<double>() - t0) / span * 10));
    mb_per_second[b] += c["bytes"].get<double>() / 1e6 / bucket_seconds;
  }
  double peak = std::max(0.001, *std::max_element(mb_per_second.begin(), mb_per_second.end()));
  const int left = 80, width = 860;
  std::string points;
  for (size_t i = 0; i < 10; ++i) {
    points += fmt::format("{:.0f},{:.0f} ", left + (i + 0.5) * width / 10, 110 - mb_per_second[i] / peak * 90);
  }
  return fmt::format(
      R"(<svg id="throughput" width="{}" height="130" xmlns="http://www.w3.org/2000/svg">)"
      R"(<text x="4" y="24">{:.1f} MB/s</text><text x="4" y="114">0 MB/s</text>)"
      R"(<line x1="{}" y1="110" x2="{}" y2="110" stroke="#555"/><line x1="{}" y1="20" x2="{}" y2="110" stroke="#555"/>)"
      R"(<polyline fill="none" stroke="#2e86c1" stroke-width="2" points="{}"/>)"
      R"(<text x="{}" y="126">0 s</text><text x="{}" y="126" text-anchor="end">{}</text></svg>)",
      left + width + 20, peak, left, left + width, left, left, points, left, left + width, clock(span));
}

}  // namespace

std::string render_html(const nlohmann::json& report) {
  const auto& run = report["run"];
  const auto& finished = report["finished"];
  auto [t0, t1] = span_of(report);
  auto verdict = verdict_of(finished);
  std::map<std::string, size_t> table_index;
  for (const auto& t : report["tables"]) table_index.emplace(t["table"].get<std::string>(), table_index.size());
  for (const auto& c : report["chunks"]) table_index.emplace(c["table"].get<std::string>(), table_index.size());
  std::string legend;
  for (const auto& [table, i] : table_index) {
    legend += fmt::format(R"(<span class="legend"><i style="background:{}"></i>{}</span> )", kTableColours[i % 10],
                          html_escape(table));
  }
  int exit_code = finished.value("exit_code", -1);
  std::string table_verification = exit_code == 0 && verdict.word == "done, verified" ? "matches the source"
                                   : exit_code == 3                                    ? "see the log: differs"
                                                                                       : "not verified";
  std::string rows;
  for (const auto& t : report["tables"]) {
    double seconds = t["finished_at"].get<double>() - t["started_at"].get<double>();
    rows += fmt::format(
        R"(<tr class="table-row"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td>{}</td><td>{}</td></tr>)",
        html_escape(t["table"].get<std::string>()), t["rows"].get<int64_t>(), human_bytes(t["bytes"].get<double>()),
        t["chunks"].get<int64_t>(), clock(seconds), t["mb_per_second"].get<double>(), t["rejected"].get<int64_t>(),
        table_verification);
  }
  std::string phase_rows;
  bool estimated = run.value("estimate", nlohmann::json()).is_object();
  for (const auto& p : phase_times(report, t1)) {
    phase_rows += fmt::format(
        R"(<tr class="phase-row"><td>{}</td><td class="estimated">{}</td><td class="actual">{}</td><td>{}</td></tr>)",
        html_escape(p.name), p.estimated < 0 ? (estimated ? "not estimated" : "") : clock(p.estimated),
        p.ran ? clock(p.actual) : "during the load",
        p.ran && p.estimated > 0 ? signed_percent(estimate_error(p.estimated, p.actual)) : "");
  }
  if (estimated) {
    const auto& e = run["estimate"];
    phase_rows += fmt::format(
        R"(<tr class="phase-total"><th>total</th><th class="estimated">{} ({} to {})</th><th class="actual">{}</th><th>{}</th></tr>)",
        clock(e["seconds"].get<double>()), clock(e.value("low_seconds", 0.0)), clock(e.value("high_seconds", 0.0)),
        clock(t1 - t0), signed_percent(estimate_error(e["seconds"].get<double>(), t1 - t0)));
  }
  auto window = window_use(run, t1 - t0);
  std::string window_html =
      window.sentence.empty() ? ""
                              : fmt::format(R"(<p id="window" class="{}"><b>{}</b></p>)", window.over ? "bad over-window" : "ok",
                                            html_escape(window.sentence));
  if (window.over) verdict = {verdict.word + ", over the window", "bad"};  // the night would not fit
  std::vector<std::pair<std::string, std::string>> audit_fields;
  flatten(run.value("audit", nlohmann::json::object()), "", audit_fields);
  std::string audit;
  for (const auto& [key, value] : audit_fields) {
    audit += fmt::format("<tr><th>{}</th><td>{}</td></tr>", html_escape(key), html_escape(value));
  }
  std::string message = exit_code != 0 ? html_escape(finished.value("message", std::string())) : "";
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pgblit run {0}: {2}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; max-width: 1000px; }}
h1 {{ font-size: 1.5em; margin-bottom: .2em; }} .ok {{ color: #1e8449; }} .warn {{ color: #b9770e; }} .bad {{ color: #c0392b; }}
#verdict {{ border-left: 6px solid currentColor; padding: .4em 1em; background: #f7f9fb; }}
#verdict p {{ color: #222; margin: .3em 0; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
svg {{ background: #fbfcfd; border: 1px solid #ddd; font-size: 11px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
</style></head><body>
<section id="verdict" class="{1}">
<h1>Run {0}: <span class="{1}">{2}</span></h1>
<p><b>Exit code {3}</b>. {4} rows, {5} in {6} ({7}); {8} tables, {9} chunks, {10} lanes.</p>
<p>{11} {12}</p>
{19}
<p id="estimate">{20}</p>
</section>
<h2>Where the time went</h2>
<p>One row per lane, each chunk coloured by its table (hover for its figures); below, one band per phase.</p>
<div>{13}</div>
{14}
<h2>Phases: the dry run's estimate and the run</h2>
<p>The estimate adds its phases up; in the run, the rebuilds, verification and ANALYZE of tables finished early overlap the load, so part of them counts in the load's time: compare the totals first.</p>
<table id="phases"><tr><th>phase</th><th>estimated</th><th>actual</th><th>against the estimate</th></tr>{15}</table>
<h2>Throughput over time</h2>
{16}
<h2>Tables</h2>
<table id="tables"><tr><th>table</th><th>rows</th><th>bytes</th><th>chunks</th><th>time</th><th>MB/s</th><th>rejected</th><th>verification</th></tr>{17}</table>
<h2>Audit</h2>
<table id="audit">{18}</table>
</body></html>
)",
                     run.value("run_id", 0), verdict.tone, html_escape(verdict.word), exit_code,
                     finished.value("rows", int64_t{0}), human_bytes(finished.value("bytes", 0.0)), clock(t1 - t0),
                     human_rate(finished.value("bytes", 0.0), t1 - t0), report["tables"].size(), report["chunks"].size(),
                     run.value("jobs", 0), html_escape(finished.value("verdict", std::string())), message, legend,
                     timeline(report, table_index), phase_rows, throughput(report), rows, audit, window_html,
                     html_escape(estimate_sentence(run, t1 - t0)));
}

std::string render_summary(const nlohmann::json& report) {
  const auto& run = report["run"];
  const auto& finished = report["finished"];
  auto [t0, t1] = span_of(report);
  auto verdict = verdict_of(finished);
  auto window = window_use(run, t1 - t0);
  std::string out = fmt::format("pgblit run {}: {}{} (exit code {})\n", run.value("run_id", 0), verdict.word,
                                window.over ? ", over the window" : "",
                                finished.value("exit_code", -1));
  out += fmt::format("{} rows, {} in {} ({}); {} tables, {} chunks, {} lanes\n", finished.value("rows", int64_t{0}),
                     human_bytes(finished.value("bytes", 0.0)), clock(t1 - t0),
                     human_rate(finished.value("bytes", 0.0), t1 - t0), report["tables"].size(),
                     report["chunks"].size(), run.value("jobs", 0));
  if (auto v = finished.value("verdict", std::string()); !v.empty()) out += v + "\n";
  if (auto m = finished.value("message", std::string()); !m.empty()) out += "Failure: " + m + "\n";
  if (!window.sentence.empty()) out += window.sentence + "\n";
  out += estimate_sentence(run, t1 - t0) + "\n";
  std::vector<std::string> phases;
  for (const auto& p : phase_times(report, t1)) {
    phases.push_back(p.estimated < 0 ? p.name + " " + clock(p.actual)
                                     : fmt::format("{} {} (estimated {})", p.name,
                                                   p.ran ? clock(p.actual) : "during the load", clock(p.estimated)));
  }
  if (!phases.empty()) out += fmt::format("Phases: {}\n", fmt::join(phases, ", "));
  out += "Tables:\n";
  for (const auto& t : report["tables"]) {
    out += fmt::format("  {}  {} rows  {}  {}  {:.1f} MB/s  {} rejected\n", printable(t["table"].get<std::string>()),
                       t["rows"].get<int64_t>(), human_bytes(t["bytes"].get<double>()),
                       clock(t["finished_at"].get<double>() - t["started_at"].get<double>()),
                       t["mb_per_second"].get<double>(), t["rejected"].get<int64_t>());
  }
  const auto audit = run.value("audit", nlohmann::json::object());
  if (audit.contains("job")) {
    out += fmt::format("Job: {} (XXH3 {})\n", audit["job"].value("file", ""), audit["job"].value("digest", ""));
  }
  out += fmt::format("Run by {}@{} with pgblit {}\n", audit.value("os_user", "?"), audit.value("host", "?"),
                     audit.value("pgblit_version", "?"));
  return out;
}

}  // namespace pgblit::report
