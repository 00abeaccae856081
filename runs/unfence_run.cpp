// See unfence_run.hpp.
#include "runs/unfence_run.hpp"

#include "target/fence.hpp"

namespace pgblit::runs {

int unfence(const UnfenceOptions& options) {
  return target::unfence(options.source, options.target, options.catalog_schema);
}

}  // namespace pgblit::runs
