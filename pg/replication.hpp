// Replication commands on a walsender connection (replication=database): the one place pgblit
// speaks the replication protocol's command language.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace pgblit::pg {

// What CREATE_REPLICATION_SLOT answers for a logical slot.
struct CreatedSlot {
  std::string name;
  std::string consistent_point;  // LSN from which the slot streams changes
  std::string snapshot;          // exported snapshot: exactly the data before consistent_point
};

// A walsender connection to the source's database. Needs the REPLICATION attribute.
class ReplicationConnection {
 public:
  // Connects with `conninfo` plus replication=database; throws like Connection::open.
  explicit ReplicationConnection(const std::string& conninfo);

  // Creates a persistent logical slot for the pgoutput plugin and exports its snapshot. The
  // snapshot id stays valid only while this connection runs no other command and stays open:
  // the caller imports it (join_snapshot) before anything else happens here.
  CreatedSlot create_logical_slot(const std::string& name);

 private:
  struct Finish {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
  std::string display_;
};

}  // namespace pgblit::pg
