// Verification after a copy: proof that the target holds exactly the rows that left.
//
// Chunks of tables verified chunk by chunk were read back on the target right after their
// commit (in the lane); here their digests are compared. The other tables (ctid chunks, or
// several source tables loading into one target, like partitions into a partitioned table)
// are compared as a whole: the sum of their chunks' source digests against one read of the
// target table. Either way the source side cost no second read.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/lane.hpp"
#include "partitioner/plan.hpp"

namespace pgblit::engine {

struct DigestMismatch {
  std::string what;  // "chunk 3 of "public"."t" ("id" >= ...)" or "table "public"."t""
  std::optional<size_t> chunk;  // the chunk, when compared chunk by chunk
  std::optional<size_t> table;  // the one source table of a target compared whole, if one
  checksums::ChunkDigest source;
  checksums::ChunkDigest target;
};

// A target table already read whole (while the copy went on), in the form its rows travelled.
struct TableDigest {
  partitioner::CopyFormat format = partitioner::CopyFormat::Binary;
  checksums::ChunkDigest digest;
};
using TableDigests = std::map<std::string, TableDigest>;  // by target table

struct VerificationReport {
  size_t chunks_compared = 0;
  size_t tables_compared = 0;
  std::vector<DigestMismatch> mismatches;
};

// `outcomes[c]` is chunk c's outcome. Target tables in `skipped` (they held rows before an
// append) cannot match the source and are not compared. A table compared whole is taken from
// `already_read` when it was read in the same form, else read in up to `jobs` ctid ranges at
// once, each on a session of its own to `target_conninfo`.
VerificationReport verify_copied(const partitioner::Plan& plan, const std::vector<ChunkOutcome>& outcomes,
                                 const std::set<std::string>& skipped, const TableDigests& already_read,
                                 pg::Connection& target, const std::string& target_conninfo, int jobs,
                                 Cancellation& cancellation);

}  // namespace pgblit::engine
