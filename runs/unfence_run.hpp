// `pgblit unfence`: lifts the fences a copy --fence (or a cutover) left on the source, as the
// target's run catalog records them (target/fence.hpp says what a fence is and how it is lifted).
#pragma once

#include <string>

#include "core/defaults.hpp"

namespace pgblit::runs {

struct UnfenceOptions {
  std::string source;  // connection strings
  std::string target;
  std::string catalog_schema = kDefaultCatalogSchema;
};

// Lifts every fence the catalog records as still in place on the source's database; returns how many.
int unfence(const UnfenceOptions& options);

}  // namespace pgblit::runs
