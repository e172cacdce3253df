#include "services/gateway/api/sessions.h"

#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace pathway::gateway {

Result<Session> SessionStore::Create(const Principal& principal, TimePoint expires_at,
                                     TimePoint now, std::string* id) {
  auto id_bytes = RandomBytes(32);
  if (!id_bytes.ok()) return id_bytes.error();
  auto csrf_bytes = RandomBytes(32);
  if (!csrf_bytes.ok()) return csrf_bytes.error();
  Session session{principal, expires_at, HexEncode(*csrf_bytes)};
  *id = HexEncode(*id_bytes);
  std::lock_guard lock(mu_);
  MakeRoomLocked(now);
  order_.push_back(*id);
  sessions_[*id] = Entry{session, std::prev(order_.end())};
  return session;
}

void SessionStore::MakeRoomLocked(TimePoint now) {
  if (sessions_.size() < max_sessions_) return;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.session.expires_at <= now) {
      order_.erase(it->second.order);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  while (!order_.empty() && sessions_.size() >= max_sessions_) {
    sessions_.erase(order_.front());
    order_.pop_front();
  }
}

SessionStore::Lookup SessionStore::Find(std::string_view id, TimePoint now, Session* out) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end()) return Lookup::kUnknown;
  if (it->second.session.expires_at <= now) {
    order_.erase(it->second.order);
    sessions_.erase(it);
    return Lookup::kExpired;
  }
  *out = it->second.session;
  return Lookup::kFound;
}

bool SessionStore::Remove(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end()) return false;
  order_.erase(it->second.order);
  sessions_.erase(it);
  return true;
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return {};
}

std::string SessionCookie(std::string_view id, std::chrono::seconds max_age, bool secure) {
  return std::string(kSessionCookie) + "=" + std::string(id) +
         "; Path=/; Max-Age=" + std::to_string(std::max<int64_t>(0, max_age.count())) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string ClearedSessionCookie(bool secure) {
  return std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
         (secure ? "; Secure" : "");
}

Result<std::vector<DevSignIn>> ReadDevSignIns(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Error{std::make_error_code(std::errc::no_such_file_or_directory), "unreadable"};
  std::vector<DevSignIn> out;
  std::string line;
  while (std::getline(in, line) && out.size() < 100) {
    std::istringstream fields(line);
    std::string role, sub, token, extra;
    if (!(fields >> role >> sub >> token) || fields >> extra) continue;
    if (role.starts_with("#")) continue;
    const auto parsed = ParseRole(role);
    if (!parsed || *parsed == Role::kPartnerSystem) continue;
    out.push_back(DevSignIn{*parsed, sub, token});
  }
  return out;
}

}  // namespace pathway::gateway
