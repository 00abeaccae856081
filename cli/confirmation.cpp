// See confirmation.hpp.
#include "cli/confirmation.hpp"

#include <unistd.h>

#include <iostream>

#include "core/error.hpp"

namespace pgblit::cli {

bool confirm(const std::string& what, bool yes, WithoutTerminal without_terminal) {
  if (yes) return true;
  if (!isatty(STDIN_FILENO)) {
    if (without_terminal == WithoutTerminal::Proceed) return true;
    throw usage_error(what + " There is no terminal to confirm on: nothing done.", "",
                      "pass --yes to confirm from a script");
  }
  std::cerr << what << " Proceed? [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace pgblit::cli
