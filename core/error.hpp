// The one error model of pgblit.
//
// A failure that ends a unit of work (a chunk, a command) is thrown as pgblit::Error: what
// failed, on which object (in SQL form), the SQLSTATE where the server gave one, and a hint
// for the fix. Expected outcomes (a mismatching chunk, a rejected row) are values, not
// errors. The process exit code is decided in one place, exit_code(), from the error's kind.
#pragma once

#include <stdexcept>
#include <string>

namespace pgblit {

// The exit codes that scripts can rely on (docs/exit-codes.md).
enum class ErrorKind {
  Runtime = 1,       // the run failed: server gone, data rejected, interrupted
  Usage = 2,         // bad flags or configuration: wrong URI, missing table, incompatible column
  Verification = 3,  // verification found differences
  Rejects = 4,       // finished, but some rows were rejected
  NoGo = 5,          // the plan says no-go
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string object = {}, std::string hint = {},
        std::string sqlstate = {})
      : std::runtime_error(std::move(message)),
        kind_(kind),
        object_(std::move(object)),
        hint_(std::move(hint)),
        sqlstate_(std::move(sqlstate)) {}

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& object() const noexcept { return object_; }
  const std::string& hint() const noexcept { return hint_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  ErrorKind kind_;
  std::string object_;
  std::string hint_;
  std::string sqlstate_;
};

inline Error usage_error(std::string message, std::string object = {}, std::string hint = {}) {
  return Error(ErrorKind::Usage, std::move(message), std::move(object), std::move(hint));
}

inline int exit_code(ErrorKind kind) noexcept { return static_cast<int>(kind); }

}  // namespace pgblit
