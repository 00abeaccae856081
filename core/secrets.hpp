// The secrets this process was given (passwords inside connection strings), so that every
// line it prints or logs can be scrubbed of them as a last line of defence. Messages are
// built without secrets in the first place (pg/conninfo.hpp); this catches what slips.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace pgblit {

class Secrets {
 public:
  static Secrets& process() {
    static Secrets secrets;
    return secrets;
  }

  // Secrets shorter than kMinLength are not scrubbed from every line: replacing each "x" of a
  // message would garble it, and such a password is no secret from a guesser anyway.
  static constexpr size_t kMinLength = 4;

  void remember(const std::string& secret) {
    if (secret.size() < kMinLength) return;
    std::lock_guard lock(mutex_);
    if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
    secrets_.push_back(secret);
    // Longest first, so a secret that contains another is replaced whole.
    std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  }

  // Whether `text` holds a remembered secret.
  bool found_in(const std::string& text) const {
    std::lock_guard lock(mutex_);
    return std::any_of(secrets_.begin(), secrets_.end(), [&](const auto& s) { return text.find(s) != std::string::npos; });
  }

  // `text` with every remembered secret replaced by ********.
  std::string scrub(std::string text) const {
    std::lock_guard lock(mutex_);
    for (const auto& s : secrets_) {
      for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 8)) text.replace(at, s.size(), "********");
    }
    return text;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> secrets_;
};

}  // namespace pgblit
