// See cancellation.hpp.
#include "pg/cancellation.hpp"

namespace pgblit::pg {

void Cancellation::request(const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (!requested_.exchange(true, std::memory_order_acq_rel)) reason_ = reason;
  for (const pg::Connection* conn : watched_) conn->cancel();
  for (Cancellation* child : children_) child->request(reason);
}

std::string Cancellation::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

Error Cancellation::error(std::string object) const {
  return Error(ErrorKind::Runtime, "cancelled: " + reason(), std::move(object), "", kSqlstateQueryCanceled);
}

Cancellation::Watch::Watch(Cancellation& owner, const pg::Connection& conn) : owner_(owner), conn_(conn) {
  std::lock_guard lock(owner_.mutex_);
  owner_.watched_.insert(&conn_);
  if (owner_.requested()) conn_.cancel();
}

Cancellation::Watch::~Watch() {
  std::lock_guard lock(owner_.mutex_);
  owner_.watched_.erase(owner_.watched_.find(&conn_));  // this watch's entry alone
}

Cancellation::Link::Link(Cancellation& parent, Cancellation& child) : parent_(parent), child_(child) {
  std::lock_guard lock(parent_.mutex_);
  parent_.children_.insert(&child_);
  if (parent_.requested()) child_.request(parent_.reason_);
}

Cancellation::Link::~Link() {
  std::lock_guard lock(parent_.mutex_);
  parent_.children_.erase(&child_);
}

}  // namespace pgblit::pg
