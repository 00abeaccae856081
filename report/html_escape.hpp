// Text placed in report pages (report.html, the history page): HTML's special characters
// escaped, and a control character in a name shown as \xNN, never obeyed.
#pragma once

#include <fmt/format.h>

#include <string>

namespace pgblit::report {

inline std::string html_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace pgblit::report
