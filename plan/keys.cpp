// See keys.hpp.
#include "plan/keys.hpp"

namespace pgblit::plan {

std::map<Oid, TableKey> read_table_keys(pg::Connection& conn, const std::vector<Oid>& oids) {
  // Key columns only (not INCLUDE columns): the first indnkeyatts of indkey.
  auto r = conn.exec_params(R"(
SELECT DISTINCT ON (i.indrelid) i.indrelid::int8, ic.relname, i.indisprimary,
       NOT (SELECT bool_and(a.attnotnull) FROM pg_attribute a
            WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) AS nullable,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
       ARRAY(SELECT format_type(a.atttypid, NULL) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY ($1::oid[]) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
  AND i.indexprs IS NULL AND am.amname = 'btree'
ORDER BY i.indrelid, i.indisprimary DESC, nullable, i.indnkeyatts, ic.relname)",
                            {oid_array_literal(oids)}, "keys");
  std::map<Oid, TableKey> keys;
  for (int i = 0; i < r.rows(); ++i) {
    TableKey key;
    key.index = r.text(i, 1);
    key.primary = r.boolean(i, 2);
    key.nullable = r.boolean(i, 3);
    key.columns = r.text_array(i, 4);
    key.types = r.text_array(i, 5);
    keys[r.int64(i, 0)] = std::move(key);
  }
  return keys;
}

}  // namespace pgblit::plan
