// The run catalog: what a run is and how far it got, kept in the target (schema `pgblit` by
// default) so that it commits together with the data.
//
// catalog_info: one row, the marker that this schema holds a pgblit catalog (and whether
//         pgblit created the schema), so `pgblit clean` drops only what is provably its own;
//         each catalog table also carries pgblit's marker comment (run_catalog_owner.cpp).
// objects: the indexes and constraints a run dropped to rebuild after loading, each with its
//         exact definition (written in the transaction that drops them) and whether it is back.
// lanes:  what each lane of each worker (host:pid) works on now, for `pgblit status`.
// runs:   one row a run: its plan (so a resumed run executes the same chunks), its options
//         (without connection strings), the source's snapshot and a cheap fingerprint of the
//         source tables, status and timings.
// chunks: one row a chunk: status, rows, bytes, digests, format, attempts, worker, error. A
//         restore's chunks are those of its run too (kind "restore"): one exactly-once path.
//
// Exactly once: a chunk is loaded in one target transaction that first locks its catalog row
// (SELECT ... FOR UPDATE SKIP LOCKED: a row another worker holds is skipped, and a worker that
// dies releases it) and last marks it done. A crash anywhere leaves the chunk either loaded
// and marked, or absent and pending.
//
// Liveness: every process working on a run (its coordinator, workers that joined it) holds a
// shared session advisory lock on the run for as long as it lives; `clean` needs that lock
// exclusively, so it can never pull a catalog from under a live run, and a process that dies
// releases it with its session.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "checksums/chunk_digest.hpp"
#include "plan/plan.hpp"
#include "pg/connection.hpp"

namespace pgblit::mover {

struct RunRecord {
  int64_t id = 0;
  std::string status;  // running, done, failed
  nlohmann::json plan;
  nlohmann::json options;
  std::string snapshot_id;
  nlohmann::json source_state;  // per source table: "inserted/updated/deleted/filenode"
  std::string finished_at;      // when it ended (done or failed), "" while running
};

// A deferred index or constraint as the catalog holds it.
struct DeferredRecord {
  nlohmann::json definition;
  bool rebuilt = false;
};

// A table of a catalog table's name in the catalog schema, and whether it is pgblit's own
// (run_catalog_owner.cpp).
struct CatalogTableOwner {
  std::string name;
  bool pgblits = false;        // made by pgblit: marked, or a pre-marker catalog's table
  bool marked = false;         // carries pgblit's marker comment
  bool owned_by_role = false;  // the current role may comment on it
};

struct ChunkRecord {
  bool done = false;
  checksums::ChunkDigest source_digest;
  std::optional<checksums::ChunkDigest> target_digest;
  plan::CopyFormat format = plan::CopyFormat::Binary;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t rejected = 0;
};

// What a chunk's load left, recorded with it.
struct ChunkDone {
  int64_t rows = 0;
  int64_t bytes = 0;
  checksums::ChunkDigest source_digest;
  plan::CopyFormat format = plan::CopyFormat::Binary;
  std::string worker;  // host:pid
  int64_t rejected = 0;
  int lane = 0;
  double seconds = 0;  // the load's duration, so the chunk's start is known (reports)
};

class RunCatalog {
 public:
  RunCatalog(pg::Connection& target, std::string schema);

  const std::string& schema() const { return schema_; }
  const std::string& quoted() const { return quoted_; }  // the schema's name quoted for SQL
  pg::Connection& target() { return target_; }
  // One coordinator at a time per catalog: a session-level advisory lock, held until the
  // session ends. Throws a usage error if another coordinator still holds it after 3 s.
  void lock_coordinator();
  // Creates the catalog's schema (unless it exists), tables and marker. Refuses (usage error,
  // nothing written) a schema holding a table of a catalog table's name that is not pgblit's.
  void create_schema();
  // That refusal alone, for the checks made before anything is written.
  void require_own_tables();
  // Whether this schema holds a pgblit catalog (its marker).
  bool exists();
  // Held by every process working on `run` until its session ends (see Liveness above).
  void hold_run(int64_t run);
  // Held by each worker process (host:pid) while it lives: `status` tells a dead worker's lanes.
  void hold_worker(const std::string& worker);
  // What a lane works on now (autocommitted, outside the chunk's transaction), for `status`.
  void lane_busy(int64_t run, const std::string& worker, int lane, std::optional<size_t> chunk);
  int64_t create_run(const plan::Plan& plan, const nlohmann::json& options, const std::string& snapshot_id,
                     const nlohmann::json& source_state);
  // The run `id`, or without one the latest run not done. Throws a usage error if none.
  RunRecord load_run(std::optional<int64_t> id);
  // The newest copy run made with the mapping file of this digest (verify --mapping reads its
  // plan: the new keys it chose), if the target has a catalog and one.
  std::optional<int64_t> run_with_mapping(const std::string& digest);
  std::vector<ChunkRecord> chunks(int64_t run, size_t count);
  void set_run_status(int64_t run, const std::string& status);
  // What the run left in its tables and sequences when it ended (table_state.hpp), kept with
  // its options beside prior_state: what `pgblit rollback` compares the target with.
  void record_end_state(int64_t run, const nlohmann::json& state);
  // Verification passed: a later resume that copies nothing need not read the target again.
  void set_verified(int64_t run);
  // Appends a phase to the run's record (its name and when it began), for the audit trail.
  void record_phase(int64_t run, const std::string& phase);
  std::string started_at(int64_t run);
  bool verified(int64_t run);

  // The objects a run defers, recorded in the caller's transaction (the one that drops them).
  void record_deferred(int64_t run, const std::vector<nlohmann::json>& objects);
  std::vector<DeferredRecord> deferred(int64_t run);
  // In the transaction that completes object `object`, on the session that rebuilt it.
  void mark_rebuilt(int64_t run, size_t object, double seconds);
  void record_rebuild_failure(int64_t run, size_t object, const std::string& error);
  // Outside the chunk's transaction (which rolled back): one more attempt, and why it failed.
  void record_failure(int64_t run, size_t chunk, const std::string& error, const std::string& worker);
  void record_target_digest(int64_t run, size_t chunk, const checksums::ChunkDigest& digest);

  // Inside a chunk's transaction, on the lane's own target session (see "Exactly once"):
  // locks the chunk's row; false when it is done already or another worker holds it.
  bool claim(int64_t run, size_t chunk);
  // Marks the claimed chunk done with what was loaded; commits with the chunk's rows.
  void mark_done(int64_t run, size_t chunk, const ChunkDone& done);

  // Whether the catalog schema holds `table` (catalogs made by older versions lack some).
  bool has_table(const std::string& table);
  // The tables of a catalog table's name in the schema, and which are pgblit's own.
  std::vector<CatalogTableOwner> catalog_tables_present();

 private:
  void mark_own_tables(const std::vector<std::string>& existed_before);

  pg::Connection& target_;
  std::string schema_;
  std::string quoted_;
};

}  // namespace pgblit::mover
