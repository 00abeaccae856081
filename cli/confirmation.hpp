// Asking a person before a command changes or drops something.
#pragma once

#include <string>

namespace pgblit::cli {

// What to do when nobody can be asked (stdin is not a terminal) and --yes was not given.
enum class WithoutTerminal { Proceed, Refuse };

// True when `--yes` was given, or a person at the terminal answers yes to `what` + " Proceed?".
// Without a terminal: true, or (Refuse) a usage error saying to pass --yes.
bool confirm(const std::string& what, bool yes, WithoutTerminal without_terminal);

}  // namespace pgblit::cli
