// The digest ledger: the one place that holds a run's source and target digests, per chunk
// and per target table, and the one rule for how each target table is compared.
//
// The rule (method()): a target table that held rows before the copy (an append, a merge) is
// compared on the rows the copy wrote, selected by their keys (runs/copied_rows), when one
// source table with a copied key loads into it, and is not compared otherwise; a table the plan verifies chunk by chunk (a key range the
// target can read by index) compares each chunk's source digest with the digest of the same
// range read back on the target; every other target table is compared whole: the sum of its
// source digests (chunks add up, and several source tables, like partitions, may load into
// one target) against one read of the target table, in the form its rows travelled. A table
// whose chunks travelled partly in binary and partly as text has no single form to read it
// in, and is reported as not compared.
//
// `pgblit copy` posts the digests its lanes computed (from the run catalog, so chunks copied
// by any worker or earlier process count) and the tables its finisher read back; `pgblit
// verify` posts both sides from its reads. Either way read_target_side() reads what is still
// missing, and compare() gives the verdict, in the one report type both commands print.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checksums/chunk_digest.hpp"
#include "plan/plan.hpp"
#include "pg/cancellation.hpp"
#include "verify/copy_digest.hpp"
#include "verify/row_diff.hpp"

namespace pgblit::verify {

enum class Method { ByChunk, Whole, CopiedRows, NotCompared };

// A target table read whole, in the form its rows travelled.
struct TableDigest {
  plan::CopyFormat format = plan::CopyFormat::Binary;
  checksums::ChunkDigest digest;
};
using TableDigests = std::map<std::string, TableDigest>;  // by target table

// A chunk or target table whose digests differ, with the rows found to differ where known.
struct Difference {
  std::string what;             // "chunk 3 of "public"."t" ("id" >= ...)" or "table "public"."t""
  std::optional<size_t> chunk;  // the chunk, when compared chunk by chunk
  std::optional<size_t> table;  // the one source table of a target compared whole, if one
  checksums::ChunkDigest source;
  checksums::ChunkDigest target;
  std::vector<RowDifference> rows;
};

struct Report {
  size_t chunks_compared = 0;
  size_t tables_compared = 0;
  std::vector<Difference> differences;
  std::vector<std::string> not_compared;  // "<target table>: why"
  std::vector<std::string> copied_rows_only;  // target tables compared on the rows the copy wrote
  // Values the target's column modifiers change (rescaled_values.hpp), one line a column.
  std::vector<std::string> changed_values;
  double seconds = 0;
  bool ok() const { return differences.empty() && changed_values.empty(); }
};

nlohmann::json to_json(const Report& report);

class Ledger {
 public:
  // `prefilled`: target tables that held rows before the copy, so hold more than the source's.
  explicit Ledger(const plan::Plan& plan, std::set<std::string> prefilled = {});

  Method method(size_t table) const;  // for plan.tables[table]
  // Its source digests add up to one per target table (compared whole, or on its copied rows).
  bool summed_per_table(size_t table) const;

  // The source side: a chunk's digest as it travelled, or (verify) a whole source table's.
  void add_source_chunk(size_t chunk, const checksums::ChunkDigest& digest, plan::CopyFormat format);
  void add_source_table(size_t table, const checksums::ChunkDigest& digest, plan::CopyFormat format);
  // The target side: a chunk's range read back, or a whole target table.
  void set_target_chunk(size_t chunk, const checksums::ChunkDigest& digest);
  void set_target_table(const std::string& target, const TableDigest& digest);

  // The tables compared on their copied rows (by index into the plan), and the condition that
  // selects those rows on the target (its session's temporary table of their keys).
  std::vector<size_t> compared_on_copied_rows() const;
  void set_copied_rows(const std::string& target, const std::string& condition);
  std::string copied_rows(const std::string& target) const;  // "" unless set

  // What compare() still lacks on the target: chunks compared by chunk without a target
  // digest, and target tables compared whole not read (in the form their rows travelled).
  std::vector<size_t> chunks_to_read() const;
  struct TargetRead {
    std::string name;
    WholeTable table;
    std::string condition;  // the copied rows only ("": all of it)
  };
  std::vector<TargetRead> tables_to_read() const;
  plan::CopyFormat chunk_format(size_t chunk) const { return chunks_[chunk].format; }
  const plan::Plan& plan() const { return plan_; }

  Report compare() const;

 private:
  struct ChunkSides {
    std::optional<checksums::ChunkDigest> source;
    plan::CopyFormat format = plan::CopyFormat::Binary;
    std::optional<checksums::ChunkDigest> target;
  };
  struct TableSides {  // a target table compared whole
    checksums::ChunkDigest source;
    std::set<plan::CopyFormat> formats;
    std::set<size_t> tables;  // the source tables loading into it
    std::optional<TableDigest> target;
    std::string copied_rows;  // CopiedRows: the condition selecting them on the target
  };
  void add_whole_source(size_t table, const checksums::ChunkDigest& digest, plan::CopyFormat format);

  const plan::Plan& plan_;
  std::set<std::string> prefilled_;
  std::map<std::string, size_t> sources_per_target_;
  std::vector<ChunkSides> chunks_;
  std::map<std::string, TableSides> tables_;  // by target table
};

// Reads on the target what the ledger lacks: chunk ranges and copied rows on `target`, whole
// tables in page ranges over up to `jobs` sessions of their own to `target_conninfo`.
void read_target_side(Ledger& ledger, pg::Connection& target, const std::string& target_conninfo, int jobs,
                      pg::Cancellation& cancellation);

}  // namespace pgblit::verify
