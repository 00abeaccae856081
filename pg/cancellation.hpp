// The one cancellation mechanism of a run. A failed chunk, Ctrl-C or SIGTERM requests it;
// every loop checks requested(), and every connection registered here has its running
// statement cancelled on the server, so no lane stays blocked in libpq.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "pg/connection.hpp"

namespace pgblit::pg {

class Cancellation {
 public:
  // The first reason wins; later requests only cancel again.
  void request(const std::string& reason);
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  std::string reason() const;
  // The failure that ends work stopped by a request: "cancelled: <reason>".
  Error error(std::string object = {}) const;

  // While a Watch lives, a request cancels what `conn` is running. Watches of one connection
  // nest: the connection stays watched until the outermost ends.
  class Watch {
   public:
    Watch(Cancellation& owner, const pg::Connection& conn);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    Cancellation& owner_;
    const pg::Connection& conn_;
  };

  // While a Link lives, a request here is also made of `child`: a part of the work that can
  // be stopped on its own as well.
  class Link {
   public:
    Link(Cancellation& parent, Cancellation& child);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

   private:
    Cancellation& parent_;
    Cancellation& child_;
  };

 private:
  std::atomic<bool> requested_{false};
  mutable std::mutex mutex_;
  std::string reason_;
  std::multiset<const pg::Connection*> watched_;
  std::set<Cancellation*> children_;
};

}  // namespace pgblit::pg
