// See retry.hpp.
#include "pg/retry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace pgblit::pg {

Retry::Retry(double timeout_seconds, Cancellation& cancellation)
    : timeout_(timeout_seconds), cancellation_(cancellation) {}

double Retry::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

bool Retry::again(const Error& failure, const std::string& what) {
  if (!failure.transient() || cancellation_.requested() || elapsed() > timeout_) {
    spdlog::debug("{}: not retried ({}; SQLSTATE {})", what, failure.what(),
                  failure.sqlstate().empty() ? "none" : failure.sqlstate());
    return false;
  }
  ++attempt_;
  double pause = std::min(30.0, 0.5 * (1 << std::min(attempt_ - 1, 6)));
  spdlog::warn("{}: attempt {} failed ({}); retrying in {:.1f} s", what, attempt_, failure.what(), pause);
  for (double waited = 0; waited < pause && !cancellation_.requested(); waited += 0.1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return !cancellation_.requested();
}

}  // namespace pgblit::pg
