// See sequences.hpp.
#include "target/sequences.hpp"

#include "pg/sql.hpp"

namespace pgblit::target {

SequenceReset reset_sequences(pg::Connection& source, pg::Connection& target, const std::vector<std::string>& schemas,
                              bool forward_only, const std::map<std::string, std::string>& renamed) {
  // pg_sequence_last_value() is NULL for a sequence never used: reset it to its start, uncalled.
  auto seqs = source.exec_params(R"(
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       COALESCE(on_.nspname, ''), COALESCE(oc.relname, ''), COALESCE(a.attname, ''),
       COALESCE(pg_sequence_last_value(c.oid), s.seqstart)::text, pg_sequence_last_value(c.oid) IS NOT NULL
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class oc ON oc.oid = d.refobjid
LEFT JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE n.nspname = ANY($1::text[]))",
                                 {pg::text_array_literal(schemas)}, "sequences");
  SequenceReset reset;
  if (seqs.rows() == 0) return reset;
  std::vector<std::string> names, owners, columns, values, called;
  for (int i = 0; i < seqs.rows(); ++i) {
    names.push_back(seqs.text(i, 0));
    std::string owner = seqs.text(i, 2).empty() ? "" : pg::qualified_name(seqs.text(i, 1), seqs.text(i, 2));
    auto to = renamed.find(owner);
    owners.push_back(to == renamed.end() ? owner : to->second);
    columns.push_back(seqs.text(i, 3));
    values.push_back(seqs.text(i, 4));
    called.push_back(seqs.boolean(i, 5) ? "true" : "false");
  }
  auto applied = target.exec_params(R"(
WITH x AS (
  SELECT seq, v::int8 AS v, called::bool AS called,
         COALESCE(CASE WHEN owner <> '' AND to_regclass(owner) IS NOT NULL
                        AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(owner) AND attname = col)
                       THEN pg_get_serial_sequence(owner, col) END,
                  to_regclass(seq)::text) AS target_seq
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(seq, owner, col, v, called))
SELECT seq, target_seq IS NOT NULL,
       CASE WHEN target_seq IS NOT NULL
             AND NOT ($6::bool AND COALESCE(pg_sequence_last_value(target_seq::regclass) >= v, false))
            THEN setval(target_seq::regclass, v, called) END
FROM x)",
                                    {pg::text_array_literal(names), pg::text_array_literal(owners),
                                     pg::text_array_literal(columns), pg::text_array_literal(values),
                                     pg::text_array_literal(called), forward_only ? "true" : "false"},
                                    "sequences");
  for (int i = 0; i < applied.rows(); ++i) {
    if (applied.boolean(i, 1)) {
      ++reset.set;
    } else {
      reset.missing.push_back(applied.text(i, 0));
    }
  }
  return reset;
}

}  // namespace pgblit::target
