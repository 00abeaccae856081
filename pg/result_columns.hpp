// The shape of a result: its columns' names and type OIDs, for a query whose columns pgblit
// learns by running it without rows (a mapping's `queries`).
#pragma once

#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::pg {

struct ResultColumn {
  std::string name;
  unsigned type = 0;  // pg_type OID
};

std::vector<ResultColumn> result_columns(const Result& result);

}  // namespace pgblit::pg
