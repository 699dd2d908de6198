// The crash-safe record of what vnetd created: intent and identity, not liveness.
//
// The kernel is the source of truth for what exists; this store remembers what vnetd
// made (names, MACs, bridge, addresses) so that hooks, the daemon and `vnetctl` agree
// on identity across restarts, crashes and upgrades.
//
// On disk: <state_dir>/state.json (format version 1) and <state_dir>/state.lock.
//  - Writes are atomic: temp file in the same directory, fsync, rename over
//    state.json, fsync the directory. A reader sees the old or the new state, never a mix.
//  - A StateLock (flock(2), exclusive) serialises concurrent hooks and the daemon.
//    Hold it across load → modify → save.
//  - A file that does not parse or validate is moved aside to
//    state.json.corrupt-<unix time>-<pid> and load() returns an error that names it.
//    Callers must then refuse destructive operations: never destroy on a state you
//    could not read.
// Thread-compatibility: a StateStore object may be used from one thread at a time;
// separate processes coordinate through the lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace vnetd {

struct InterfaceRecord {
  unsigned index = 0;
  std::string host_name;    // e0a_web
  std::string jail_name;    // name inside the jail (generated e0b_web or configured)
  std::string host_mac;     // "02:..:..", as set on the host side
  std::string jail_mac;     // as set on the jail side
  std::string bridge;       // bridge interface name it is a member of
  std::vector<std::string> addresses;  // CIDRs assigned inside the jail (v4 and v6)
  bool created_by_vnetd = true;        // false: adopted/observed, never destroyed by vnetd
};

struct JailRecord {
  std::string name;
  std::string phase;          // last completed hook phase: "prestart" | "created"
  int64_t updated_at = 0;     // unix seconds of the last change
  std::vector<InterfaceRecord> interfaces;
};

struct State {
  uint64_t generation = 0;                  // incremented by every save()
  std::map<std::string, JailRecord> jails;  // by jail name
};

// Pure codec, exposed for tests and the fuzz target: never throws, never crashes.
std::string encodeState(const State& state);
Result<State> decodeState(std::span<const char> bytes);

class StateLock {
 public:
  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();  // releases the lock

 private:
  friend class StateStore;
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

class StateStore {
 public:
  // Creates state_dir (mode 0700) if missing. Does not read the state.
  static Result<StateStore> open(const std::string& state_dir);

  // Blocks until the exclusive lock is held, or fails after timeout_ms (ETIMEDOUT).
  Result<StateLock> lock(int timeout_ms = 30000) const;

  // Missing file → empty State (first run). Corrupt file → moved aside + error.
  Result<State> load(const StateLock& held) const;
  // Increments state.generation and writes atomically.
  Result<void> save(const StateLock& held, State& state) const;

  const std::string& dir() const { return dir_; }
  std::string statePath() const { return dir_ + "/state.json"; }

 private:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace vnetd
