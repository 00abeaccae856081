// See clean_command.hpp.
#include "cli/clean_command.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

#include "engine/run_catalog.hpp"
#include "engine/session.hpp"

namespace pgblit::cli {

std::function<int()> add_clean_command(CLI::App& app) {
  struct Flags {
    std::string target;
    std::string catalog_schema = "pgblit";
    int64_t run = 0;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("clean", "drop one run from the run catalog, or (without RUN_ID) the whole catalog");
  cmd->add_option("RUN_ID", flags->run, "the run to drop");
  cmd->add_option("--target", flags->target, "target server (default: $TARGET_DATABASE_URL)");
  cmd->add_option("--catalog-schema", flags->catalog_schema, "schema of the run catalog (default: pgblit)");
  return [flags] {
    if (flags->target.empty()) {
      if (const char* env = std::getenv("TARGET_DATABASE_URL")) flags->target = env;
    }
    if (flags->target.empty()) throw usage_error("no target server given", "", "pass --target or set TARGET_DATABASE_URL");
    auto target = engine::open_session(flags->target, "target");
    engine::RunCatalog catalog(target, flags->catalog_schema);
    catalog.clean(flags->run > 0 ? std::optional<int64_t>(flags->run) : std::nullopt);
    if (flags->run > 0) {
      spdlog::info("dropped run {} from {}", flags->run, flags->catalog_schema);
    } else {
      spdlog::info("dropped the run catalog {}", flags->catalog_schema);
    }
    return 0;
  };
}

}  // namespace pgblit::cli
