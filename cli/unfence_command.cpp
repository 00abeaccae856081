// See unfence_command.hpp.
#include "cli/unfence_command.hpp"

#include <fmt/format.h>

#include <memory>

#include "cli/common_flags.hpp"
#include "core/defaults.hpp"
#include "target/fence.hpp"

namespace pgblit::cli {

std::function<int()> add_unfence_command(CLI::App& app) {
  struct Flags {
    ConnectionFlags connections;
    std::string catalog_schema = kDefaultCatalogSchema;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("unfence", "lift the fence a copy --fence left on the source after a crash "
                                            "(read-only default, revoked CONNECT), as its run catalog recorded it");
  add_connection_flags(*cmd, flags->connections);
  add_catalog_schema_flag(*cmd, flags->catalog_schema);
  return [flags] {
    require_connections(flags->connections);
    int lifted = target::unfence(flags->connections.source, flags->connections.target, flags->catalog_schema);
    fmt::print("{}\n", lifted ? fmt::format("lifted {} fence{} on the source", lifted, lifted == 1 ? "" : "s")
                              : std::string("no fence recorded as in place on this source"));
    return 0;
  };
}

}  // namespace pgblit::cli
