// Human-readable sizes and rates for logs and reports.
#pragma once

#include <fmt/format.h>

#include <cstdint>
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

}  // namespace pgblit
