// What a run reports, as events: the engine emits them and knows nothing of terminals or
// files; sinks (report/) draw the progress bar, write the run folder's events.jsonl and
// reports, and print JSON lines for dashboards. Each event is one JSON object: "event" (its
// type), "at" (seconds since the epoch, UTC), "schema" (kEventsVersion) and its own fields,
// listed in docs/events.md. Thread-safe: lanes emit from their own threads.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgblit {

inline constexpr int kEventsVersion = 1;

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(const nlohmann::json& event) = 0;
};

class Events {
 public:
  void subscribe(std::shared_ptr<EventSink> sink) {
    std::lock_guard lock(mutex_);
    sinks_.push_back(std::move(sink));
  }

  void emit(const std::string& type, nlohmann::json fields = nlohmann::json::object()) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    fields["event"] = type;
    fields["at"] = std::chrono::duration<double>(now).count();
    fields["schema"] = kEventsVersion;
    std::lock_guard lock(mutex_);
    for (const auto& sink : sinks_) sink->on_event(fields);
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<EventSink>> sinks_;
};

}  // namespace pgblit
