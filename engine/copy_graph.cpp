// See copy_graph.hpp.
#include "engine/copy_graph.hpp"

#include <tbb/concurrent_queue.h>
#include <tbb/flow_graph.h>

#include <thread>
#include <vector>

#include "engine/chunk_scheduler.hpp"

namespace pgblit::engine {
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

// The lane threads: each opens its own Lane (a source and a target session) and runs the
// chunks it is handed, one at a time.
class LaneThreads {
 public:
  LaneThreads(int count, const LaneConfig& config, Cancellation& cancellation, const ChunkWork& work)
      : config_(config), cancellation_(cancellation), work_(work) {
    for (int i = 0; i < count; ++i) threads_.emplace_back([this] { serve(); });
  }
  ~LaneThreads() {
    for (size_t i = 0; i < threads_.size(); ++i) tasks_.push(std::nullopt);
    for (auto& t : threads_) t.join();
  }
  void submit(const LaneTask& task) { tasks_.push(task); }

 private:
  void serve() {
    std::optional<Lane> lane;
    std::optional<Error> open_failure;
    try {
      lane.emplace(config_, cancellation_);
    } catch (const Error& e) {
      open_failure = e;
    }
    for (;;) {
      std::optional<LaneTask> task;
      tasks_.pop(task);
      if (!task) return;
      ChunkOutcome outcome;
      if (cancellation_.requested()) {
        outcome.error = Error(ErrorKind::Runtime, "cancelled: " + cancellation_.reason());
      } else if (!lane) {
        outcome.error = open_failure;
      } else {
        outcome = work_(*lane, task->job.chunk);
      }
      outcome.chunk = task->job.chunk;
      task->gateway->try_put(outcome);
      task->gateway->release_wait();
    }
  }

  const LaneConfig& config_;
  Cancellation& cancellation_;
  const ChunkWork& work_;
  tbb::concurrent_bounded_queue<std::optional<LaneTask>> tasks_;
  std::vector<std::thread> threads_;
};

}  // namespace

std::optional<Error> run_chunk_graph(const partitioner::Plan& plan, const LaneConfig& lane_config, int jobs,
                                     bool follow_dependencies, Cancellation& cancellation, const ChunkWork& work,
                                     const std::function<void(const ChunkOutcome&)>& on_outcome) {
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(plan.chunks.size())));
  ChunkScheduler scheduler(plan, follow_dependencies);
  LaneThreads lane_threads(jobs, lane_config, cancellation, work);
  std::optional<Error> first_failure;
  auto job_of = [&](size_t c) { return ChunkJob{c, plan.chunks[c].estimated_bytes}; };

  flow::graph g;
  flow::priority_queue_node<ChunkJob, LargestFirst> ready(g);
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
    } else if (!cancellation.requested()) {
      for (size_t c : scheduler.finished(outcome.chunk)) std::get<0>(ports).try_put(job_of(c));
    }
    std::get<1>(ports).try_put(flow::continue_msg());
  });
  flow::make_edge(ready, in_flight);
  flow::make_edge(in_flight, lanes);
  flow::make_edge(lanes, done);
  flow::make_edge(flow::output_port<0>(done), ready);
  flow::make_edge(flow::output_port<1>(done), in_flight.decrementer());

  for (size_t c : scheduler.initially_ready()) ready.try_put(job_of(c));
  g.wait_for_all();
  if (!first_failure && cancellation.requested()) {
    first_failure = Error(ErrorKind::Runtime, "cancelled: " + cancellation.reason());
  }
  return first_failure;
}

}  // namespace pgblit::engine
