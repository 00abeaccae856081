// The target's side of `copy --follow`: a subscription to the run's publication that uses the
// slot the copy's snapshot came from (create_slot = false, copy_data = false), so it applies
// exactly the changes committed after that snapshot, with PostgreSQL's own apply worker.
#pragma once

#include <optional>
#include <string>

#include "pg/connection.hpp"

namespace pgblit::target {

struct SubscriptionSpec {
  std::string name;
  std::string source_conninfo;  // how the target's server reaches the source (stored in pg_subscription)
  std::string publication;
  std::string slot;
};

// Needs superuser on the target (PostgreSQL 16+: pg_create_subscription).
void create_subscription(pg::Connection& target, const SubscriptionSpec& spec);

// Disables the subscription, detaches it from its slot (which the source side drops) and drops
// it; nothing when it does not exist.
void drop_subscription(pg::Connection& target, const std::string& name);

struct SubscriptionState {
  bool exists = false;
  bool enabled = false;
  bool worker_running = false;      // an apply worker is attached
  std::optional<double> lag_seconds;  // now - the last change's send time, while a worker runs
  std::string received_lsn, latest_end_lsn;
};
SubscriptionState subscription_state(pg::Connection& target, const std::string& name);

}  // namespace pgblit::target
