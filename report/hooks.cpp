// See hooks.hpp.
#include "report/hooks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <vector>

extern char** environ;

namespace pgblit::report {

Hooks::Hooks(std::string command, double timeout_seconds)
    : command_(std::move(command)), timeout_(timeout_seconds), thread_([this] { serve(); }) {}

Hooks::~Hooks() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Hooks::on_event(const nlohmann::json& event) {
  const std::string& type = event["event"];
  if (type != "run_started" && type != "phase" && type != "run_finished") return;
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
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.rfind("PGPASSWORD=", 0) != 0) env.emplace_back(entry);  // a hook needs no password of pgblit's
  }
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
    if (std::chrono::steady_clock::now() > deadline) {
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
