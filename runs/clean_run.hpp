// `pgblit clean`: the runs it would drop, and dropping them (or the whole catalog) with nothing
// that is not pgblit's own. The rules are in clean_run.cpp's opening comment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mover/run_catalog.hpp"

namespace pgblit::runs {

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
