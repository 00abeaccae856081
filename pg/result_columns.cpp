// See result_columns.hpp.
#include "pg/result_columns.hpp"

#include <libpq-fe.h>

namespace pgblit::pg {

std::vector<ResultColumn> result_columns(const Result& result) {
  std::vector<ResultColumn> out;
  for (int i = 0; i < PQnfields(result.get()); ++i) out.push_back({PQfname(result.get(), i), PQftype(result.get(), i)});
  return out;
}

}  // namespace pgblit::pg
