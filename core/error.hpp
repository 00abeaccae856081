// The one error model of pgblit.
//
// A failure that ends a unit of work (a chunk, a command) is thrown as pgblit::Error: what
// failed, on which object (in SQL form), the SQLSTATE where the server gave one, and a hint
// for the fix. Expected outcomes (a mismatching chunk, a rejected row) are values, not
// errors. The process exit code is decided in one place, exit_code(), from the error's kind;
// whether a failure is worth retrying, or is a row the target refused, is decided here from
// its SQLSTATE class, never from a message's words. Failures libpq reports without a
// SQLSTATE (a lost connection, a refused connection) are given the standard one in pg/.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgblit {

// The exit codes that scripts can rely on (docs/exit-codes.md).
enum class ErrorKind {
  Runtime = 1,       // the run failed: server gone, data rejected, interrupted
  Usage = 2,         // bad flags or configuration: wrong URI, missing table, incompatible column
  Verification = 3,  // verification found differences
  Rejects = 4,       // finished, but some rows were rejected
  NoGo = 5,          // the plan says no-go
};

// SQLSTATEs pgblit gives failures that libpq reports without one.
inline constexpr const char* kSqlstateConnectionFailure = "08006";   // lost, refused, unreachable
inline constexpr const char* kSqlstateTooManyConnections = "53300";  // no free connection slot
inline constexpr const char* kSqlstateQueryCanceled = "57014";       // Ctrl-C, or a failure elsewhere

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

  // Worth retrying after a pause and a reconnect: the connection was lost, the server shut
  // down, restarted or is starting, had no free slot, or ended a transaction to resolve a
  // serialization failure or deadlock.
  bool transient() const noexcept {
    std::string_view s = sqlstate_;
    return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "40001" || s == "40P01" ||
           s == "53300";
  }
  // The target refused a row's data (classes 22 data exception and 23 integrity violation),
  // as opposed to failing as a whole.
  bool rejects_row() const noexcept { return sqlstate_.starts_with("22") || sqlstate_.starts_with("23"); }
  // The target could not read a value's binary form: its type's OIDs or layout differ.
  bool refuses_binary_form() const noexcept { return sqlstate_ == "42804" || sqlstate_ == "22P03"; }

 private:
  ErrorKind kind_;
  std::string object_;
  std::string hint_;
  std::string sqlstate_;
};

inline Error usage_error(std::string message, std::string object = {}, std::string hint = {}) {
  return Error(ErrorKind::Usage, std::move(message), std::move(object), std::move(hint));
}

// The kind of a server error, from its SQLSTATE class: authorization (28), syntax and access
// rules (42), catalog and schema names (3D, 3F) mean "fix the configuration"; the rest are
// runtime failures.
inline ErrorKind kind_of_sqlstate(std::string_view state) noexcept {
  std::string_view cls = state.substr(0, 2);
  if (cls == "28" || cls == "42" || cls == "3D" || cls == "3F") return ErrorKind::Usage;
  return ErrorKind::Runtime;
}

inline int exit_code(ErrorKind kind) noexcept { return static_cast<int>(kind); }

}  // namespace pgblit
