// The rows a check reads: a copied table's rows as the target will get them. A mapped table is
// read through its mapped values, by target names, after its filter; rows a value map's
// `else: error` fails are left out (the copy sets them aside for that, and the `value map`
// check counts them); the target's generated columns are computed from the row by their own
// expression; with --checks fast a large table is read through TABLESAMPLE.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dryrun/target_demands.hpp"
#include "plan/plan.hpp"

namespace pgblit::dryrun {

class RowSource {
 public:
  // `generated`: the target's generated columns the checks compute.
  RowSource(const plan::Plan& plan, bool fast, const std::vector<Generated>& generated);

  // " TABLESAMPLE ..." with --checks fast on a large table, and the scale to multiply counts by.
  std::pair<std::string, double> sample(const plan::TableCopy& t) const;

  // A FROM item of t's rows, aliased `alias`, sampled when `may_sample` (--checks fast), and the
  // scale to multiply counts by. `only`: the target columns the check reads (and the key, for
  // its example); empty: all. Each check evaluates only its own columns' expressions, so one
  // mapped expression that fails is one finding, never a reason other checks did not run.
  std::pair<std::string, double> from(const plan::TableCopy& t, bool may_sample = true,
                                      const std::string& alias = "c", const std::vector<std::string>& only = {}) const;

  // A FROM item (alias c) of every row the run moves out of t, for its count(*): filtered, and
  // with the rows a value map fails (they are moved to the rejects, still rows of the run).
  std::string moved_rows(const plan::TableCopy& t) const;

  // min(ROW(key))::text over alias c: the example key of a finding; "NULL" without a key.
  std::string example_key(const plan::TableCopy& t) const;

  // "A row of t before this one (alias c) where `condition` holds (alias p)", in the order of
  // t's key; "" when t has no key to order by. `columns`: those `condition` reads.
  std::string earlier_row(const plan::TableCopy& t, const std::vector<std::string>& columns,
                          const std::string& condition) const;

  // Whether the target computes `column` of `table` (and the checks compute it likewise).
  bool computes(const std::string& table, const std::string& column) const;

 private:
  std::pair<std::string, double> from_rows(const plan::TableCopy& t, bool may_sample, const std::string& alias,
                                           const std::vector<std::string>& only, bool mappable_only = true) const;

  bool fast_;
  std::map<std::string, std::vector<Generated>> generated_;  // by target table
  // Per mapped table, the condition of each `else: error` value map: its value is NULL or one
  // the map covers.
  std::map<const plan::TableCopy*, std::vector<std::string>> mappable_;
};

}  // namespace pgblit::dryrun
