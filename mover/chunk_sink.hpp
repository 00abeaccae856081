// Where one chunk's COPY stream goes, for the one pump (copy_pump.hpp): the target's COPY FROM
// STDIN (inside the chunk's claim/mark transaction, which its caller holds), a spool's chunk
// file (durable under its final name only once whole), or nowhere (a chunk only digested, as
// `verify --spool` does: the pump digests every stream it moves).
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "pg/connection.hpp"
#include "pg/copy.hpp"
#include "spool/chunk_file.hpp"

namespace pgblit::mover {

class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // Takes one block of the stream; false when it failed and takes no more (its failure comes
  // with end()). May throw pgblit::Error (a full disk): the pump stops and throws it.
  virtual bool put(std::span<const char> block) = 0;
  // The stream is whole (`abandoned` null) or abandoned (why): ends this side and returns the
  // rows it took (-1: it counts none) or its failure.
  virtual pg::CommandEnd end(const char* abandoned) = 0;
};

// `COPY ... FROM STDIN` on `conn`, started here (throws with the connection idle), inside the
// caller's transaction; aborted by its destructor if never ended.
class TargetCopyIn : public ChunkSink {
 public:
  TargetCopyIn(pg::Connection& conn, const std::string& copy_in_sql, const std::string& object)
      : load_(conn, copy_in_sql, object) {}
  bool put(std::span<const char> block) override { return load_.put(block); }
  pg::CommandEnd end(const char* abandoned) override { return load_.end(abandoned); }

 private:
  pg::CopyIn load_;
};

// A spool's chunk file, compressed as written (`workers` zstd threads); made durable under its
// final name only when the stream is whole, removed otherwise.
class SpoolFileSink : public ChunkSink {
 public:
  SpoolFileSink(const std::filesystem::path& path, int level, int workers) : file_(path, level, workers) {}
  bool put(std::span<const char> block) override {
    file_.write(block);
    return true;
  }
  pg::CommandEnd end(const char* abandoned) override {
    if (!abandoned) file_.finish();
    return {std::nullopt, -1};
  }
  int64_t raw_bytes() const { return file_.raw_bytes(); }

 private:
  spool::ChunkFileWriter file_;
};

}  // namespace pgblit::mover
