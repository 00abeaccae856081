// Ctrl-C and SIGTERM cancel the run cleanly: every in-flight chunk rolls back, nothing half
// loaded stays behind, and pgblit exits 1. A second signal exits at once (130).
#pragma once

#include "pg/cancellation.hpp"

namespace pgblit::cli {

// Call before any thread starts: blocks SIGINT/SIGTERM in every thread and watches them on
// one thread of its own, which turns the first into cancellation.request().
void route_interrupts_to(pg::Cancellation& cancellation);

}  // namespace pgblit::cli
