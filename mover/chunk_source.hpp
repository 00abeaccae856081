// Where one chunk's COPY stream comes from, for the one pump (copy_pump.hpp): a COPY TO STDOUT
// on a session (the source in the run's snapshot for copy and backup; the target, for
// `verify --spool`), or a spool's chunk file (restore). The pump reads a source on a thread of
// its own while its calling thread hands the blocks to the chunk's sinks (chunk_sink.hpp).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <span>
#include <string>

#include "pg/connection.hpp"
#include "pg/copy.hpp"
#include "spool/chunk_file.hpp"

namespace pgblit::mover {

class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // The next piece of the stream, valid until the next call; empty at its end, or once
  // stopped. Throws pgblit::Error when the stream cannot be read.
  virtual std::span<const char> next() = 0;
  // After next() returned empty: the rows the source counted (-1: it counts none) and its
  // failure, if any; the source is idle afterwards.
  virtual pg::CommandEnd end() = 0;
  // From the pump's other thread: the chunk is abandoned (a sink failed, the run is
  // cancelled); next() returns empty soon.
  virtual void stop() = 0;
  // A failure reading this stream (its own, or the stream's framing) as the user should read it.
  virtual Error explain(const Error& failure) const { return failure; }
};

// `COPY (...) TO STDOUT` on `conn`, started here (throws with the connection idle).
class CopyOutSource : public ChunkSource {
 public:
  CopyOutSource(pg::Connection& conn, const std::string& copy_out_sql, const std::string& object)
      : conn_(conn), stream_(conn, copy_out_sql, object) {}
  std::span<const char> next() override { return stream_.next(); }
  pg::CommandEnd end() override { return stream_.end(); }
  void stop() override { conn_.cancel(); }

 private:
  pg::Connection& conn_;
  pg::CopyOut stream_;
};

// A spool's chunk file, decompressed as it is read; a corrupt or truncated file is a failure
// naming it.
class SpoolFileSource : public ChunkSource {
 public:
  explicit SpoolFileSource(const std::filesystem::path& path) : path_(path), file_(path) {}
  std::span<const char> next() override { return stopped_ ? std::span<const char>{} : file_.next(); }
  pg::CommandEnd end() override { return {std::nullopt, -1}; }
  void stop() override { stopped_ = true; }
  Error explain(const Error& failure) const override {
    return Error(ErrorKind::Runtime, fmt::format("the spool file {} is damaged: {}", path_.string(), failure.what()),
                 path_.string(), "nothing of this chunk was committed; use another copy of the spool, or copy again");
  }

 private:
  std::filesystem::path path_;
  spool::ChunkFileReader file_;
  std::atomic<bool> stopped_{false};
};

}  // namespace pgblit::mover
