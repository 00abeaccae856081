// `pgblit clean`: the runs it would drop, and dropping them (or the whole catalog) with nothing
// that is not pgblit's own. The rules are in clean_run.cpp's opening comment.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/defaults.hpp"
#include "mover/run_catalog.hpp"
#include "pg/cancellation.hpp"

namespace pgblit::runs {

struct CleanOptions {
  std::string target;  // connection string
  std::string catalog_schema = kDefaultCatalogSchema;
  int64_t run = 0;  // the run to drop; 0 with `all`
  bool all = false;  // the whole catalog
  bool restore_objects = false;  // rebuild the run's pending indexes and constraints first
  bool force = false;  // or give them up (their definitions logged)
};

// One run as `pgblit clean` shows it before dropping it.
struct RunSummary {
  int64_t id = 0;
  std::string status;
  std::string started_at;
  int64_t chunks = 0;
  int64_t chunks_done = 0;
  int64_t objects_pending = 0;  // deferred indexes and constraints not rebuilt yet
  bool alive = false;  // a process still works on it
};

// What `pgblit clean` dropped, to say exactly that.
struct CleanResult {
  std::vector<int64_t> runs;
  std::vector<std::string> tables;  // pgblit's own catalog tables, when the whole catalog went
  std::vector<std::string> not_pgblits;  // tables of a catalog table's name that pgblit did not make: kept
  bool schema_dropped = false;
  std::string schema_kept;          // why the schema stayed, when its tables went
};

// What `clean` is about to drop, for the caller to confirm.
struct CleanPending {
  std::vector<RunSummary> runs;  // the one run, or every run of the catalog
  std::string target;            // the target as shown to a person (no password)
};

// `pgblit clean`: refuses runs a process still works on, settles the pending indexes and
// constraints (--restore-objects rebuilds them, cancelled by `cancellation`; --force gives
// them up), then asks `confirm` and, if it says yes, drops (clean_catalog). nullopt when not
// confirmed: nothing dropped.
std::optional<CleanResult> clean(const CleanOptions& options, pg::Cancellation& cancellation,
                                 const std::function<bool(const CleanPending&)>& confirm);

// The runs `clean` would drop: `run`, or every run. Throws a usage error when the schema
// holds no pgblit catalog or the run does not exist.
std::vector<RunSummary> runs_to_clean(mover::RunCatalog& catalog, std::optional<int64_t> run);
// Drops one run's rows, or (without an id) pgblit's catalog tables and, if pgblit created
// it and nothing else lives in it, the schema. Refuses (usage error) while a process still
// works on a run it would drop. One transaction.
CleanResult clean_catalog(mover::RunCatalog& catalog, std::optional<int64_t> run);
// Throws a usage error while a fence recorded in this catalog is not lifted (clean --all).
void refuse_while_fenced(mover::RunCatalog& catalog);
// Marks a run's pending objects rebuilt without rebuilding them (clean --force).
void abandon_objects(mover::RunCatalog& catalog, int64_t run);
// Inside the caller's transaction: `run` (or every run) with whether a process still works
// on it; holds each idle run's lock until the transaction ends (clean, rollback).
std::vector<RunSummary> runs_in_transaction(mover::RunCatalog& catalog, std::optional<int64_t> run);

}  // namespace pgblit::runs
