// Connection strings as DBAs write them, shown without their secrets.
#pragma once

#include <string>

namespace pgblit::pg {

// A form of a libpq connection string (URI or key=value) that is safe to print: the
// password is dropped, and so is anything that does not parse. Example:
// "postgresql://app:s3cret@db1:5432/sales" -> "postgresql://app@db1:5432/sales".
std::string redact_conninfo(const std::string& conninfo);

// Removes every occurrence of the connection string's password from a message (libpq and
// server messages normally hold none; this is the last line of defence).
std::string scrub_password(std::string message, const std::string& conninfo);

}  // namespace pgblit::pg
