// See copy_graph.hpp.
#include "mover/copy_graph.hpp"

#include <tbb/concurrent_queue.h>
#include <tbb/flow_graph.h>

#include <vector>

#include "core/worker_pool.hpp"
#include "mover/chunk_scheduler.hpp"

namespace pgblit::mover {
namespace {

namespace flow = tbb::flow;

struct ChunkJob {
  size_t chunk = 0;
  int64_t bytes = 0;
};

// priority_queue_node hands out the greatest element first.
struct LargestFirst {
  bool operator()(const ChunkJob& a, const ChunkJob& b) const {
    return a.bytes != b.bytes ? a.bytes < b.bytes : a.chunk > b.chunk;
  }
};

using LaneNode = flow::async_node<ChunkJob, ChunkOutcome>;

struct LaneTask {
  ChunkJob job;
  LaneNode::gateway_type* gateway = nullptr;
};

// The lanes, workers of the one pool: each opens its own Lane (a source and a target session) and runs the
// chunks it is handed, one at a time.
class LaneThreads {
 public:
  LaneThreads(int count, const LaneConfig& config, pg::Cancellation& cancellation, const ChunkWork& work)
      : config_(config), cancellation_(cancellation), work_(work), pool_(count) {
    for (int i = 0; i < count; ++i) pool_.run([this, i] { serve(i + 1); });
  }
  ~LaneThreads() {
    for (int i = 0; i < pool_.workers(); ++i) tasks_.push(std::nullopt);  // pool_ then waits for them
  }
  void submit(const LaneTask& task) { tasks_.push(task); }

 private:
  void serve(int number) {
    std::optional<Lane> lane;
    std::optional<Error> open_failure;
    try {
      lane.emplace(config_, cancellation_, number);
    } catch (const Error& e) {
      open_failure = e;
    }
    for (;;) {
      std::optional<LaneTask> task;
      tasks_.pop(task);
      if (!task) return;
      ChunkOutcome outcome;
      if (cancellation_.requested()) {
        outcome.error = cancellation_.error();
      } else if (!lane) {
        outcome.error = open_failure;
      } else {
        outcome = work_(*lane, task->job.chunk);
      }
      outcome.chunk = task->job.chunk;
      outcome.lane = number;
      task->gateway->try_put(outcome);
      task->gateway->release_wait();
    }
  }

  const LaneConfig& config_;
  pg::Cancellation& cancellation_;
  const ChunkWork& work_;
  tbb::concurrent_bounded_queue<std::optional<LaneTask>> tasks_;
  WorkerPool pool_;  // last: its workers use everything above
};

}  // namespace

std::optional<Error> run_chunk_graph(const plan::Plan& plan, const LaneConfig& lane_config, int jobs,
                                     bool follow_dependencies, const std::vector<bool>& already_done,
                                     pg::Cancellation& cancellation, const ChunkWork& work,
                                     const std::function<void(const ChunkOutcome&)>& on_outcome) {
  ChunkScheduler scheduler(plan, follow_dependencies);
  std::vector<size_t> ready;
  {
    std::vector<size_t> initially = scheduler.initially_ready();
    std::vector<bool> is_ready(plan.chunks.size());
    for (size_t c : initially) is_ready[c] = true;
    for (size_t c = 0; c < plan.chunks.size(); ++c) {
      if (c < already_done.size() && already_done[c]) {
        for (size_t next : scheduler.finished(c)) is_ready[next] = true;
      }
    }
    for (size_t c = 0; c < plan.chunks.size(); ++c) {
      if (is_ready[c] && !(c < already_done.size() && already_done[c])) ready.push_back(c);
    }
  }
  if (ready.empty()) return std::nullopt;
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(plan.chunks.size())));
  LaneThreads lane_threads(jobs, lane_config, cancellation, work);
  std::optional<Error> first_failure;
  auto job_of = [&](size_t c) { return ChunkJob{c, plan.chunks[c].estimated_bytes}; };

  flow::graph g;
  flow::priority_queue_node<ChunkJob, LargestFirst> ready_queue(g);
  flow::limiter_node<ChunkJob> in_flight(g, static_cast<size_t>(jobs));
  LaneNode lanes(g, flow::unlimited, [&](const ChunkJob& job, LaneNode::gateway_type& gateway) {
    gateway.reserve_wait();
    lane_threads.submit({job, &gateway});
  });
  using DoneNode = flow::multifunction_node<ChunkOutcome, std::tuple<ChunkJob, flow::continue_msg>>;
  DoneNode done(g, flow::serial, [&](const ChunkOutcome& outcome, DoneNode::output_ports_type& ports) {
    on_outcome(outcome);
    if (outcome.error) {
      if (!first_failure) first_failure = outcome.error;
      cancellation.request(outcome.error->what());
    } else if (!cancellation.requested() && !outcome.skipped) {
      for (size_t c : scheduler.finished(outcome.chunk)) std::get<0>(ports).try_put(job_of(c));
    }
    std::get<1>(ports).try_put(flow::continue_msg());
  });
  flow::make_edge(ready_queue, in_flight);
  flow::make_edge(in_flight, lanes);
  flow::make_edge(lanes, done);
  flow::make_edge(flow::output_port<0>(done), ready_queue);
  flow::make_edge(flow::output_port<1>(done), in_flight.decrementer());

  for (size_t c : ready) ready_queue.try_put(job_of(c));
  g.wait_for_all();
  if (!first_failure && cancellation.requested()) {
    first_failure = cancellation.error();
  }
  return first_failure;
}

}  // namespace pgblit::mover
