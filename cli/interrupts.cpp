// See interrupts.hpp.
#include "cli/interrupts.hpp"

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "pg/connection.hpp"

namespace pgblit::cli {

void route_interrupts_to(pg::Cancellation& cancellation) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, &cancellation] {
    int signal = 0;
    sigwait(&set, &signal);
    cancellation.request(signal == SIGINT ? "interrupted (Ctrl-C)" : "terminated (SIGTERM)");
    pg::cancel_all_statements();  // whatever waits, on any server, stops waiting now
    sigwait(&set, &signal);
    _exit(130);
  }).detach();
}

}  // namespace pgblit::cli
