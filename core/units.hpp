// Human-readable sizes and rates for logs and reports.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace pgblit {

inline std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

// Elapsed time or an ETA: "4:07" under an hour, "1:04:07" from an hour on.
inline std::string human_duration(double seconds) {
  auto s = static_cast<int64_t>(seconds > 0 ? seconds : 0);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

inline std::string human_rate(double bytes, double seconds) {
  return human_bytes(seconds > 0 ? bytes / seconds : 0) + "/s";
}

// A span of time as a DBA writes one: "2h", "90m", "1h30m", "45s", "1.5h", or plain seconds;
// nothing when the text is not one (or is not positive).
inline std::optional<double> parse_span(const std::string& text) {
  double total = 0;
  const char* at = text.c_str();
  if (*at == '\0') return std::nullopt;
  while (*at != '\0') {
    char* end = nullptr;
    double value = std::strtod(at, &end);
    if (end == at || !std::isfinite(value) || value < 0) return std::nullopt;
    at = end;
    double scale = *at == 'd' ? 86400 : *at == 'h' ? 3600 : *at == 'm' ? 60 : *at == 's' ? 1 : 0;
    if (scale == 0) {
      if (*at != '\0' || total > 0) return std::nullopt;  // plain seconds stand alone
      scale = 1;
    } else {
      ++at;
    }
    total += value * scale;
  }
  if (total > 0) return total;
  return std::nullopt;
}

}  // namespace pgblit
