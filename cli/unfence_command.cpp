// See unfence_command.hpp.
#include "cli/unfence_command.hpp"

#include <fmt/format.h>

#include <memory>

#include "cli/common_flags.hpp"
#include "runs/unfence_run.hpp"

namespace pgblit::cli {

std::function<int()> add_unfence_command(CLI::App& app) {
  auto options = std::make_shared<runs::UnfenceOptions>();
  auto* cmd = app.add_subcommand("unfence", "lift the fence a copy --fence left on the source after a crash "
                                            "(read-only default, revoked CONNECT), as its run catalog recorded it");
  add_connection_flags(*cmd, options->source, options->target);
  add_catalog_schema_flag(*cmd, options->catalog_schema);
  return [options] {
    require_connections(options->source, options->target);
    int lifted = runs::unfence(*options);
    fmt::print("{}\n", lifted ? fmt::format("lifted {} fence{} on the source", lifted, lifted == 1 ? "" : "s")
                              : std::string("no fence recorded as in place on this source"));
    return 0;
  };
}

}  // namespace pgblit::cli
