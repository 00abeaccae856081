// The oneTBB flow graph that runs a plan's chunks across `jobs` lanes (copying them, or
// verifying them: the work per chunk is the caller's).
//
//   ready (priority queue, largest first) -> limiter (jobs in flight) -> lanes (async_node)
//      ^                                                                    |
//      +---- newly ready chunks ---- done (serial: report, schedule) <------+
//                                     +---- one slot back to the limiter
//
// The lanes' blocking libpq I/O runs on workers of the one pool (core/worker_pool.hpp, an
// arena of their own), never on the graph's TBB threads; the async_node hands chunks to them and their outcomes come back through its
// gateway. At most `jobs` chunks are in flight, so memory is bounded by jobs × blocks.
#pragma once

#include <functional>
#include <optional>

#include "mover/lane.hpp"
#include "plan/plan.hpp"

namespace pgblit::mover {

// What a lane does with one chunk (by index into plan.chunks).
using ChunkWork = std::function<ChunkOutcome(Lane& lane, size_t chunk)>;

// Runs `work` on every chunk of `plan` not `already_done`, in the target's foreign-key order
// when `follow_dependencies` (a skipped chunk, held by another worker, does not count as
// finished for that order); `on_outcome` sees each chunk's outcome, one at a time. On the
// first failure the run is cancelled (in-flight chunks roll back) and that failure returned.
std::optional<Error> run_chunk_graph(const plan::Plan& plan, const LaneConfig& lane_config, int jobs,
                                     bool follow_dependencies, const std::vector<bool>& already_done,
                                     pg::Cancellation& cancellation, const ChunkWork& work,
                                     const std::function<void(const ChunkOutcome&)>& on_outcome);

}  // namespace pgblit::mover
