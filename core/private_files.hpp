// What pgblit writes to disk holds table data (spool chunks, rejected rows) or the story of a
// run: it is its owner's alone, whatever the umask. Folders pgblit creates are 0700 (folders
// that already existed are the user's and stay as they are); files it writes are 0600.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <vector>

namespace pgblit {

// Like std::filesystem::create_directories, each folder it creates made 0700.
inline void create_private_directories(const std::filesystem::path& dir, std::error_code& error) {
  std::vector<std::filesystem::path> missing;
  for (auto p = dir; !p.empty() && !std::filesystem::exists(p, error); p = p.parent_path()) {
    if (error) return;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto p = missing.rbegin(); p != missing.rend(); ++p) {
    if (::mkdir(p->c_str(), 0700) != 0 && errno != EEXIST) {
      error = std::error_code(errno, std::generic_category());
      return;
    }
    ::chmod(p->c_str(), 0700);  // whatever the umask took away
  }
}

// Creates `file` if missing and makes it 0600 (before a stream or a logger opens it).
inline void make_private_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;  // the writer that opens it next reports the failure
  ::fchmod(fd, 0600);
  ::close(fd);
}

}  // namespace pgblit
