// See hooks.hpp.
#include "report/hooks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/secrets.hpp"
#include "pg/conninfo.hpp"

extern char** environ;

namespace pgblit::report {

std::vector<std::string> hook_environment(char** environment) {
  std::vector<std::string> env;
  for (char** e = environment; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    std::string value(entry.substr(std::min(entry.size(), name.size() + 1)));
    if (name == "PGPASSWORD") continue;  // a hook needs no password of pgblit's
    if (name == "SOURCE_DATABASE_URL" || name == "TARGET_DATABASE_URL") {
      // Still usable (psql "$SOURCE_DATABASE_URL"), minus the password; left out if unparsable.
      std::string usable = pg::without_password(value);
      if (!usable.empty()) env.push_back(fmt::format("{}={}", name, usable));
      continue;
    }
    if (Secrets::process().found_in(value)) continue;  // any other variable holding a password pgblit was given
    env.emplace_back(entry);
  }
  return env;
}

Hooks::Hooks(std::string command, double timeout_seconds)
    : command_(std::move(command)), timeout_(timeout_seconds), thread_([this] { serve(); }) {}

Hooks::~Hooks() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // The process is ending: what is queued and running gets one timeout in all, not one each.
    exit_deadline_ = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(timeout_));
  }
  changed_.notify_all();
  thread_.join();
}

void Hooks::on_event(const nlohmann::json& event) {
  const std::string& type = event["event"];
  if (type != "run_started" && type != "phase" && type != "run_finished" && type != "follow_lag") return;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(event);
  }
  changed_.notify_all();
}

void Hooks::serve() {
  for (;;) {
    nlohmann::json event;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      if (stopping_ && std::chrono::steady_clock::now() >= exit_deadline_) {
        std::vector<std::string> skipped;
        for (const auto& e : queue_) skipped.push_back(e["event"]);
        spdlog::warn("--on-event: {} hook{} not run ({}): the hooks at exit had their {:.0f} s", skipped.size(),
                     skipped.size() == 1 ? "" : "s", fmt::join(skipped, ", "), timeout_);
        queue_.clear();
        return;
      }
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    run(event);
  }
}

void Hooks::run(const nlohmann::json& event) {
  const std::string& type = event["event"];
  if (type == "run_started") run_id_ = event["run_id"];
  if (type == "phase") phase_ = event["phase"];
  if (type == "follow_lag") {  // from pgblit status --watch too, which has no run_started
    run_id_ = event["run_id"];
    phase_ = "following";
  }
  std::vector<std::string> env = hook_environment(environ);
  env.push_back("PGBLIT_EVENT=" + type);
  env.push_back(fmt::format("PGBLIT_RUN_ID={}", run_id_));
  env.push_back("PGBLIT_PHASE=" + (type == "run_finished" ? std::string("done") : phase_));
  if (event.contains("exit_code")) env.push_back(fmt::format("PGBLIT_EXIT_CODE={}", event["exit_code"].get<int>()));
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int input[2];
  if (pipe(input) != 0) return;
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, input[0], 0);
  posix_spawn_file_actions_addclose(&files, input[1]);
  std::string shell = "/bin/sh", flag = "-c", command = command_;
  char* argv[] = {shell.data(), flag.data(), command.data(), nullptr};
  // A process group of its own: a hook stopped for its timeout goes with everything it started.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, "/bin/sh", &files, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  close(input[0]);
  if (spawned != 0) {
    close(input[1]);
    spdlog::warn("--on-event: cannot run the hook: {}", std::strerror(spawned));
    return;
  }
  std::string json = event.dump() + "\n";
  signal(SIGPIPE, SIG_IGN);  // a hook that does not read its input is fine
  if (write(input[1], json.data(), json.size()) < 0) spdlog::debug("--on-event: the hook did not read its input");
  close(input[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    auto now = std::chrono::steady_clock::now();
    bool exit_over = false;
    {
      std::lock_guard lock(mutex_);
      exit_over = stopping_ && now > exit_deadline_;
    }
    if (exit_over) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      spdlog::warn("--on-event: the hook for {} was stopped: pgblit is exiting and waited {:.0f} s for its hooks",
                   type, timeout_);
      return;
    }
    if (now > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      spdlog::warn("--on-event: the hook for {} ran longer than {:.0f} s and was stopped", type, timeout_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::warn("--on-event: the hook for {} failed (exit {}); the run goes on", type,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

}  // namespace pgblit::report
