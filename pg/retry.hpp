// The one retry policy of pgblit. A failure that is transient (Error::transient(): a lost
// connection, a server restarting or out of connection slots, a serialization failure or
// deadlock) is tried again after a pause that doubles from 0.5 s up to 30 s, until
// `timeout` seconds have passed since the first attempt or the run is cancelled; any other
// failure ends the work at once.
#pragma once

#include <chrono>
#include <string>

#include "core/error.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::pg {

class Retry {
 public:
  Retry(double timeout_seconds, Cancellation& cancellation);

  // After `failure` of `what`: false when it is not to be retried (not transient, out of
  // time, cancelled); otherwise logs it, waits the pause (waking early on cancellation) and
  // returns true.
  bool again(const Error& failure, const std::string& what);
  double elapsed() const;

 private:
  double timeout_;
  Cancellation& cancellation_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  int attempt_ = 0;
};

}  // namespace pgblit::pg
