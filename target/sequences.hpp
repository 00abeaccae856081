// After the data: the sequences of the columns a command wrote move past what those columns
// now hold, so the application's first INSERT after the move does not collide with a copied
// key. A sequence belongs to a written column when the column owns it (serial, identity) or
// takes its default from it (nextval). Each goes to the largest of: the column's largest
// value on the target (constants and merged keys included), and the source's value for it
// (a hint: the source may have handed out keys it deleted since). Sequences never move
// backwards, in any command: one already past that value is left alone. Sequences of tables
// the command did not write are not touched.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgblit::target {

struct WrittenTable {
  std::string table;                 // "schema"."table" on the target
  std::vector<std::string> columns;  // the columns written, unquoted names
};

// Values known from the source, by the target sequence they stand for ("schema"."seq") or by
// the written column they feed ("schema"."table"."column"), names always quoted.
struct SequenceHints {
  std::map<std::string, int64_t> by_sequence;
  std::map<std::string, int64_t> by_column;
};

struct SequenceAdvance {
  int set = 0;        // moved forward
  int already = 0;    // already past every value: left alone
  std::vector<std::string> notes;  // sequences that could not be set, and why
};

SequenceAdvance advance_sequences(pg::Connection& target, const std::vector<WrittenTable>& written,
                                  const SequenceHints& hints = {});

// The source's values of the sequences that columns of `tables` own (serial, identity), as
// hints for the target tables they load into (`renamed`: source table -> target table).
// `source` is the coordinator, inside the run's snapshot.
SequenceHints source_sequence_hints(pg::Connection& source, const std::vector<std::string>& tables,
                                    const std::map<std::string, std::string>& renamed);

}  // namespace pgblit::target
