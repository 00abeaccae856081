// `pgblit plan` (= `pgblit copy --dry-run`): the dry run. Connects to both servers, builds the
// plan the copy would execute (the same code path), decides what it would defer, counts what
// it would meet on the real rows, prints it all with a go/no-go; writes nothing on either
// server. Its measured estimate is kept in the run folder for the copy that follows
// (report/kept_estimate.hpp), so that copy's report compares the night with it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "cli/common_flags.hpp"
#include "core/defaults.hpp"

namespace pgblit::cli {

// What only the dry run takes (plan, and copy with --dry-run).
struct DryRunFlags {
  double max_warning_ratio = 0.01;
  std::string checks = "full";
  bool exact_counts = false;
  double check_timeout = 0;
  double estimate_seconds = 5;
};
void add_dry_run_flags(CLI::App& cmd, DryRunFlags& flags, const std::string& prefix);

struct PlanFlags {
  ConnectionFlags connections;
  plan::Selection selection;
  int64_t chunk_bytes = kDefaultChunkBytes;
  bool disable_triggers = false;
  std::string indexes = "defer";
  bool json = false;
  int jobs = default_jobs();
  std::string on_existing = "error";
  std::string catalog_schema = kDefaultCatalogSchema;
  int index_jobs = 0;  // 0: -j
  std::string verify = "full";
  bool no_analyze = false;
  DryRunFlags dry;
  std::string mapping;
  std::string job;  // --job FILE, applied to these flags before run_plan
  bool follow = false;  // also check what copy --follow needs
  std::string run_dir = kDefaultRunDir;  // the estimate is kept there for the copy that follows
  std::string window;    // --window: whether the estimate fits it
};

std::function<int()> add_plan_command(CLI::App& app);
// The dry run itself: exit 0 for go, 5 for no-go.
int run_plan(PlanFlags& flags);

}  // namespace pgblit::cli
