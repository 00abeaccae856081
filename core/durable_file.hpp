// A file that appears whole or not at all: written under a temporary name, fsynced, renamed,
// and its directory fsynced. A crash at any point leaves either the previous file (or none)
// or the complete new one; a writer destroyed before commit() removes its temporary file.
// Failures (a full disk, permissions) throw pgblit::Error naming the file and the fix.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "core/error.hpp"

namespace pgblit {

class DurableFile {
 public:
  // `what`: how errors name the file ("spool file", "rejects file"); `hint`: the fix.
  DurableFile(std::filesystem::path path, std::string what, std::string hint)
      : path_(std::move(path)), temporary_(path_.string() + ".tmp"), what_(std::move(what)), hint_(std::move(hint)) {
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);  // table data: the owner's alone
    if (fd_ < 0) throw failure("create");
  }
  ~DurableFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  void write(std::span<const char> bytes) {
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw failure("write");
      done += static_cast<size_t>(n);
    }
    bytes_ += static_cast<int64_t>(bytes.size());
  }
  int64_t bytes() const { return bytes_; }

  // Makes the file durable under its name.
  void commit() {
    if (::fsync(fd_) != 0) throw failure("sync");
    ::close(fd_);
    fd_ = -1;
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) throw failure("rename");
    committed_ = true;
    int dir = ::open(path_.parent_path().empty() ? "." : path_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

  // Writes `text` to `path` durably in one go.
  static void write_whole(const std::filesystem::path& path, std::string_view text, std::string what, std::string hint) {
    DurableFile file(path, std::move(what), std::move(hint));
    file.write(text);
    file.commit();
  }

 private:
  Error failure(const char* doing) const {
    return Error(ErrorKind::Runtime,
                 fmt::format("cannot {} the {} {}: {}", doing, what_, path_.string(), std::strerror(errno)),
                 path_.string(), hint_);
  }

  std::filesystem::path path_;
  std::string temporary_;
  std::string what_, hint_;
  int fd_ = -1;
  bool committed_ = false;
  int64_t bytes_ = 0;
};

}  // namespace pgblit
