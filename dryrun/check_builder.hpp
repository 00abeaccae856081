// Builds the dry run's data checks of one run: every source table loading into a target table
// is checked against what that table demands (target_demands.hpp; a partitioned source: each
// partition), on its rows as the target will get them (row_source.hpp). Column checks (NOT
// NULL, lengths, ranges, enums, the encoding, the mapping's value maps and filters) are in
// column_checks.cpp, key checks (unique, existing keys, foreign keys, CHECKs, exclusions) in
// key_checks.cpp; data_checks.cpp runs what this builds.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dryrun/check.hpp"
#include "dryrun/data_checks.hpp"
#include "dryrun/row_source.hpp"
#include "dryrun/target_demands.hpp"

namespace pgblit::dryrun {

class CheckBuilder {
 public:
  CheckBuilder(start::RunSetup& run, const CheckOptions& options);

  std::vector<Check> build();

 private:
  using SourceTypes = std::map<std::pair<std::string, std::string>, std::string>;

  // A warning (or info) counting rows of each source of `table` where `condition` holds (alias
  // c); `columns`: the target columns the condition reads.
  void rows_where(const std::string& table, const std::string& check, const std::string& object,
                  const std::string& condition, const std::string& what, const std::string& fix,
                  bool on_source_only = false, const std::vector<std::string>& columns = {},
                  Severity severity = Severity::Warning);
  void rows_where_of(const plan::TableCopy& t, const std::string& check, const std::string& object,
                     const std::string& condition, const std::string& what, const std::string& fix,
                     const std::vector<std::string>& columns, bool on_source_only = false,
                     Severity severity = Severity::Warning);
  // Target tables that already hold rows (read once, when an appended run first asks).
  const std::set<std::string>& prefilled();

  // column_checks.cpp
  void column_checks(const TargetColumn& c, const SourceTypes& types);
  void encoding_checks(const SourceTypes& types);
  void mapping_checks(const mapping::Mapping& mapping);

  // key_checks.cpp
  void key_checks(const Key& k);
  void duplicates(const Key& k, const std::string& object);
  void exclusion(const Exclusion& x);
  void orphans_among_copied(const Key& k, const std::string& object);
  void keys_checked_on_target(const Key& k, const std::string& object, bool collisions, const std::string& among = "",
                              const std::string& why = "");

  start::RunSetup& run_;
  const CheckOptions& options_;
  RowSource rows_;
  std::map<std::string, std::vector<const plan::TableCopy*>> sources_of_;
  std::map<const plan::TableCopy*, std::vector<std::string>> predicates_;  // see Check::row_table
  std::set<std::string> with_exclusion_;  // target tables with an exclusion constraint the checks count
  std::vector<Check> checks_;
  std::optional<std::set<std::string>> prefilled_;
};

// A unique key whose every violation is one of another unique key of the table too (its columns
// hold the other's: UNIQUE (id, k) beside PRIMARY KEY (id)): its rows are counted there, once.
bool implied(const Key& k, const std::vector<Key>& keys);

}  // namespace pgblit::dryrun
