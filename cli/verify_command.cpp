// See verify_command.hpp.
#include "core/defaults.hpp"
#include "cli/verify_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/common_flags.hpp"
#include "runs/spool_verify.hpp"
#include "core/printable.hpp"
#include "cli/interrupts.hpp"
#include "pg/sql.hpp"
#include "runs/verify_run.hpp"

namespace pgblit::cli {
namespace {

// What only the command line has beside runs::VerifyOptions: --spool, and the mapping file's path.
struct VerifyCommand {
  runs::VerifyOptions options;
  std::string mapping;  // --mapping FILE, loaded before anything connects
  std::string spool;    // --spool DIR: the target against a spool, no source
  bool json = false;
};

// --spool: the target against a spool; no source.
int verify_against_spool(VerifyCommand& command, pg::Cancellation& cancellation) {
  require_target(command.options.target);
  auto report = runs::verify_spool(
      {.spool_dir = command.spool, .target = command.options.target, .jobs = command.options.jobs}, cancellation);
  for (const auto& d : report.differences) {
    fmt::print("differs: {}: spool {} rows, target {} rows\n", printable(d.what), d.spool_rows, d.target_rows);
  }
  fmt::print("{}: {} chunks compared with the spool {} in {:.2f} s{}\n",
             report.differences.empty() ? "identical" : "DIFFERENT", report.chunks, printable(command.spool),
             report.seconds, report.differences.empty() ? "" : fmt::format(", {} differ", report.differences.size()));
  return report.differences.empty() ? 0 : exit_code(ErrorKind::Verification);
}

void print_report(const verify::Report& report) {
  for (const auto& d : report.differences) {
    fmt::print("differs: {}: source {} rows, target {} rows\n", printable(d.what), d.source.rows, d.target.rows);
    for (const auto& r : d.rows) {
      std::string columns;
      for (const auto& c : r.columns) columns += (columns.empty() ? " (column " : ", ") + pg::quote_ident(c);
      fmt::print("  {}: {}{}\n", verify::to_string(r.kind), printable(r.key), columns.empty() ? "" : printable(columns) + ")");
    }
  }
  for (const auto& c : report.changed_values) fmt::print("differs: {}\n", printable(c));
  for (const auto& why : report.not_compared) fmt::print("not compared: {}\n", printable(why));
  for (const auto& name : report.copied_rows_only) {
    fmt::print("{}: compared on the rows the copy wrote (it held others before)\n", printable(name));
  }
  // A table left out is not a pass: the verdict says so, and the exit code is not 0.
  const char* verdict = !report.ok() ? "DIFFERENT" : report.not_compared.empty() ? "identical" : "NOT ALL COMPARED";
  fmt::print("{}: {} chunks and {} whole tables compared in {:.2f} s{}\n", verdict,
             report.chunks_compared, report.tables_compared, report.seconds,
             !report.ok() ? fmt::format(", {} differ", report.differences.size() + report.changed_values.size())
             : report.not_compared.empty()
                 ? ""
                 : fmt::format("; {} tables NOT compared (above): nothing is proven about them",
                               report.not_compared.size()));
}

int run(VerifyCommand& command) {
  pg::Cancellation cancellation;
  route_interrupts_to(cancellation);
  if (!command.spool.empty()) return verify_against_spool(command, cancellation);
  auto& options = command.options;
  require_connections(options.source, options.target);
  std::optional<mapping::Mapping> mapping;
  if (!command.mapping.empty()) mapping = mapping::load_mapping(command.mapping);
  options.mapping = mapping ? &*mapping : nullptr;
  auto report = runs::run_verify(options, cancellation);
  if (command.json) {
    std::cout << verify::to_json(report).dump(2) << "\n";
  } else {
    print_report(report);
  }
  return report.ok() && report.not_compared.empty() ? 0 : exit_code(ErrorKind::Verification);
}

}  // namespace

std::function<int()> add_verify_command(CLI::App& app) {
  auto command = std::make_shared<VerifyCommand>();
  auto& options = command->options;
  auto* cmd = app.add_subcommand("verify", "compare source and target row by row without copying; find what differs");
  add_connection_flags(*cmd, options.source, options.target);
  add_selection_flags(*cmd, options.selection);
  add_mapping_flag(*cmd, command->mapping);
  cmd->add_option("--spool", command->spool,
                  "compare the target with this spool (copy --spool, backup) instead of a source, chunk by chunk")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--run", options.run_id,
                  "compare what this copy run copied, by its own plan (its mapping, new keys, and the tables that "
                  "held rows before it); with --mapping, the newest run made with that file is taken")
      ->check(CLI::PositiveNumber);
  add_catalog_schema_flag(*cmd, options.catalog_schema);
  add_chunk_size_flag(*cmd, options.chunk_bytes);
  add_jobs_flag(*cmd, options.jobs, "chunks compared at once");
  cmd->add_option("--max-diffs", options.max_differences, "report at most this many differing rows (default: 100)")
      ->check(count_number());
  cmd->add_flag("--json", command->json, "print the report as JSON on stdout");
  return [command] { return run(*command); };
}

}  // namespace pgblit::cli
