// Names as a person or a parser may safely read them. Real schemas hold table names with
// newlines or other control characters; printed raw, such a name forges a line of output (a
// fake log line, a broken plan table). Everywhere pgblit prints a name for people, control
// characters are shown as escapes instead: "multi\nline", "bell\x07".
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace pgblit {

inline std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A log message: every control character escaped but the line breaks pgblit itself puts
// before an indented list item ("\n  - ..."), which stay.
inline std::string printable_message(std::string_view text) {
  std::string out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find("\n  ", at);
    out += printable(text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (end == std::string_view::npos) break;
    out += "\n  ";
    at = end + 3;
  }
  return out;
}

}  // namespace pgblit
