// The crash-safe record of what vnetd created: intent and identity, not liveness.
//
// The kernel is the source of truth for what exists; this store remembers what vnetd
// made (names, MACs, bridge, addresses) so that hooks, the daemon and `vnetctl` agree
// on identity across restarts, crashes and upgrades.
//
// On disk: <state_dir>/state.json (format version 2) and <state_dir>/state.lock.
//  - Writes are atomic: temp file in the same directory, rename over state.json. A
//    reader sees the old or the new state, never a mix.
//  - Durability contract: ATOMIC ALWAYS, DURABLE WITHIN 1 S (daemon) / ON RETURN (hook).
//    Once save() returns, the new state is what every process reads, and no process
//    crash (SIGKILL, abort, OOM kill — of the writer or anyone) can take it back: the
//    bytes are in the kernel's page cache and the rename is done. What is left is the
//    power loss / kernel crash case, and there the two modes differ:
//      * sync on save (default; the standalone vnetd-hook): save() fsyncs the
//        temp file before the rename and the directory after it, so the state is on
//        stable storage when save() returns ("durable on return").
//      * write-behind (setWriteBehind(); the daemon): save() does neither fsync and
//        returns as soon as the rename is done; the daemon's StateSyncer
//        (daemon/state_syncer.h) calls sync() within 0.5 s of the first save after its
//        last sync, so a state is durable within 1 s of its save (0.5 s of delay, the
//        rest for the fsyncs themselves). A power loss inside that window can leave the
//        previous state, the new one, or — on filesystems that may commit a rename
//        before the renamed file's data: ZFS when something else on the dataset is
//        fsync'd inside the window (zil_commit, below), any filesystem without ext4's
//        auto_da_alloc replace-via-rename rule (Linux Documentation/admin-guide/
//        ext4.rst) — an empty or short state.json, which load() moves aside as
//        corrupt like any unreadable file; the interfaces the state
//        describes did not survive the power loss either, and records of jails that do
//        run again are rebuilt from the kernel (core/state_rebuild.h).
//    (docs/state.md says the same for operators.)
//    Why the sync is enough: fsync flushes the FILE (its inode/vnode), not the
//    descriptor: all dirty data of whatever inode is state.json when sync() opens it,
//    whoever wrote it (Linux fsync(2): "all modified in-core data of the file referred
//    to by fd"; FreeBSD sys/kern/vfs_syscalls.c kern_fsync: vm_object_page_clean and
//    VOP_FSYNC on fp->f_vnode, needing only CAP_FSYNC, not write access). States that a
//    later rename replaced need no flush: they are no longer anyone's state. The rename
//    itself is an entry in the directory, which fsync of the file does not promise to
//    write (fsync(2): "an explicit fsync() on a file descriptor for the directory is
//    also needed"), hence the directory fsync after the file's (file first: the new
//    name must never reach the disk before the data it names). On FreeBSD UFS that is
//    ffs_fsync → ffs_syncvnode on the directory vnode (sys/ufs/ffs/ffs_vnops.c); on ZFS
//    zfs_fsync → zil_commit(zilog, foid), which commits every synchronous itx of the
//    dataset — create and rename itxs are synchronous by default (zil_itx_create) — plus
//    the file's own write itxs (sys/contrib/openzfs/module/zfs/zil.c, zil_commit's
//    comment; module/zfs/zfs_vnops.c zfs_fsync), so on ZFS the file fsync already
//    covers the rename and the directory fsync is a cheap no-op.
//  - A StateLock (flock(2), exclusive) serialises concurrent hooks and the daemon.
//    Hold it across load → modify → save.
//  - A file that does not parse or validate is moved aside to
//    state.json.corrupt-<unix time>-<pid> and load() returns an error that names it.
//    Callers must then refuse destructive operations: never destroy on a state you
//    could not read.
//  - Leftover temp files (.state.json.tmp-<pid>, and the daemon's .state.json.tmp-<pid>.next-<n>
//    and .old of prepareSpare) of writers that were killed are removed by the next load()
//    of another process — a write-behind store (the daemon) looks for them at most once a
//    second (kStaleTempScanInterval): it loads at every hook, and the directory scan was a
//    few per cent of a hook's own CPU time; they are never read as state.
//
// Format (version 2), every field required, unknown fields rejected (a misspelt
// "created_by_vnetd" must not silently default to true and let vnetd destroy an
// interface it merely adopted):
//   {"version": 2, "generation": <uint64>,
//    "jails": {"<name>": {"name": "<name>", "phase": "prestart"|"created",
//                         "updated_at": <int64>,
//                         "limits": null | {"<rctl resource>": {"action": "<rctl action>",
//                                                              "amount": <uint64>}, ..},
//                         "interfaces": [{"index": 0..15, "host_name": ..., "jail_name": ...,
//                                         "host_mac": "02:..", "jail_mac": "02:..",
//                                         "bridge": "<ifname>"|"", "addresses": ["cidr", ..],
//                                         "created_by_vnetd": true|false}]}}}
// Adding or changing a field means a new format version.
//
// Older versions still load, migrated in memory; the next save writes the current one:
//  - version 1 has no "limits": its records load with limits = nullopt ("not recorded"),
//    which version 2 writes as null. Callers that need the applied limits fall back to
//    what the configuration names (see JailRecord::limits).
// Thread-compatibility: a StateStore object may be used from one thread at a time;
// separate processes coordinate through the lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <optional>

#include "core/rctl_resources.h"
#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd {

inline constexpr int kStateFormatVersion = 2;
// The oldest format decodeState still reads (and migrates).
inline constexpr int kOldestStateFormatVersion = 1;
// Far above any real state (a jail with 16 interfaces is ~8 KiB), small enough that a
// runaway or hostile file cannot exhaust memory when parsed.
inline constexpr size_t kMaxStateFileBytes = size_t{16} << 20;

struct InterfaceRecord {
  unsigned index = 0;
  std::string host_name;               // e0a_web
  std::string jail_name;               // name inside the jail (generated e0b_web or configured)
  std::string host_mac;                // "02:..:..", as set on the host side
  std::string jail_mac;                // as set on the jail side
  std::string bridge;                  // bridge interface name it is a member of; "" = not bridged
  std::vector<std::string> addresses;  // CIDRs assigned inside the jail (v4 and v6)
  bool created_by_vnetd = true;        // false: adopted/observed, never destroyed by vnetd

  friend bool operator==(const InterfaceRecord&, const InterfaceRecord&) = default;
};

struct JailRecord {
  std::string name;
  std::string phase;                        // last completed hook phase: "prestart" | "created"
  int64_t updated_at = 0;                   // unix seconds of the last change
  std::vector<InterfaceRecord> interfaces;  // unique index; host_name unique in the State
  // The rctl limits vnetd applied to this jail (resource -> action and amount), recorded
  // before they are applied, so that poststop and orphan collection remove exactly these
  // and not what the configuration says by then (a limit dropped from the config while
  // the jail ran must not outlive it). Empty: none applied. nullopt: not recorded (a
  // record written by a vnetd with state format 1).
  std::optional<RctlLimits> limits = RctlLimits{};

  friend bool operator==(const JailRecord&, const JailRecord&) = default;
};

struct State {
  uint64_t generation = 0;                  // incremented by every save()
  std::map<std::string, JailRecord> jails;  // by jail name

  friend bool operator==(const State&, const State&) = default;
};

// Pure codec, exposed for tests and the fuzz target: never throws, never crashes.
// encodeState output decodes to an equal State whenever validateState(state) passes.
std::string encodeState(const State& state);
// Checks syntax, types and validateState. Errors are one line starting "state.json: "
// and name the offending item, e.g.
//   state.json: jail 'web' interface 0: host_mac "zz" is not a MAC address
Result<State> decodeState(std::span<const char> bytes);
// The semantic rules decodeState enforces (valid names, jail key == name, phase,
// MACs, CIDRs, index < kMaxInterfacesPerJail and unique per jail, host_name unique
// across jails, limits on rctl resources with an action the kernel accepts for them and
// an amount it takes). save() refuses a state that fails them: it could never be read back.
Result<void> validateState(const State& state);

// Holds the exclusive flock on <state_dir>/state.lock until destroyed (closing the fd
// releases it). The fd is O_CLOEXEC, so exec'd programs never inherit the lock; a
// fork()ed child does share it until it exits or closes it.
class StateLock {
 public:
  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();  // releases the lock

  // False only for a moved-from lock.
  bool held() const { return fd_.valid(); }

 private:
  friend class StateStore;
  explicit StateLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// How often a write-behind store's load() looks for killed writers' temp files (above).
inline constexpr std::chrono::seconds kStaleTempScanInterval{1};

class StateStore {
 public:
  // Creates state_dir (mode 0700, missing parents 0755) if missing; an existing
  // directory keeps its mode. ENOTDIR if it exists and is not a directory. Does not
  // read the state.
  static Result<StateStore> open(const std::string& state_dir);

  // Blocks until the exclusive lock is held, or fails after timeout_ms (ETIMEDOUT).
  // timeout_ms <= 0 tries once. Sleeps while waiting: on the daemon's event loop use a
  // short timeout (hooks hold the lock for milliseconds).
  Result<StateLock> lock(int timeout_ms = 30000) const;

  // Missing file → empty State (first run). Corrupt file → moved aside + error (code 0).
  // Other read failures (EACCES, EMFILE, ...) leave the file in place and return the errno.
  // EINVAL if `held` is a moved-from lock. Reads the file every time, but decodes it only
  // when its bytes differ from those of the last state this store (or a copy) decoded or
  // saved: the daemon's hooks mostly load what its previous save wrote.
  Result<State> load(const StateLock& held) const;
  // The last committed state, read without the lock: state.json is only ever replaced by
  // rename(2), so this is always one complete state, never a mix. For readers that must
  // not wait behind a writer (the daemon's status). Missing file → empty State; a bad
  // file is reported, never moved aside (that is load()'s job, under the lock).
  Result<State> peek() const;
  // peek() without the copy, for frequent readers (every scrape, every status, the
  // capture following every hook): the file is decoded only when it is neither the one
  // the last call saw (same inode, size and mtime: saves always replace it) nor holds the
  // bytes of the last state this store saved or decoded, so reading an unchanged state
  // costs an open and an fstat, and reading this store's own last save a read. Any thread.
  Result<std::shared_ptr<const State>> snapshot() const;
  // Increments state.generation and writes atomically: in place when this returns.
  // Sync on save (the default): the file and the directory are fsync'd first. Write-
  // behind: neither; the `saved` callback runs (see setWriteBehind).
  // Refuses a state that fails validateState. On error state.generation is
  // unchanged and state.json is untouched, except when the error says the directory
  // fsync failed: the new file is then already in place (reload before retrying).
  Result<void> save(const StateLock& held, State& state) const;

  // Switches this store, and every copy of it, to write-behind: save() returns once the
  // new state is renamed into place, without any fsync, and then calls `saved` (on the
  // saving thread, lock still held: keep it short — the daemon's StateSyncer::saved
  // takes a mutex and signals). Whoever installs it must call sync() within the window
  // the durability contract above promises. Call once, before any thread saves;
  // an empty function switches back to sync on save.
  void setWriteBehind(std::function<void()> saved);
  // Off the hook path, after every save (the daemon's StateSyncer): makes the next save's
  // file system work small. The state in place now gets a second name,
  // .state.json.tmp-<pid>.old (until the next preparation), so the save that replaces it
  // does not free its blocks inside rename(2); and an empty .state.json.tmp-<pid>.next-<n> (a
  // new name each time, created exclusively: never a file a save in flight holds) is
  // created and kept open, so that save writes it instead of creating a file. Measured
  // on ext4 with a 240-jail state (74 KB): create + write + rename 0.27 ms, with both
  // prepared 0.05 ms — at two saves per jail start. Both are temp names: never read as
  // state, removed by another process's load() (the save then creates its own file as
  // without a preparation). Needs no lock; any thread, one at a time; failures only make
  // the next save the unprepared one.
  void prepareSpare() const;
  // Makes the state that is in place now durable: opens state.json by name, fsyncs it,
  // then fsyncs the directory (why that is enough: see the top of this file). A missing
  // state.json is no error (the directory is still synced). Needs no lock; any thread.
  // A sync that runs while a save renames a newer file in may cover the older inode and
  // already the newer name: the newer state is then not durable until the next sync,
  // which its own save has asked for.
  Result<void> sync() const;
  // The seam for tests: every fsync this store (and its copies) makes — of the temp file,
  // of state.json, of the directory — calls `fsync(fd)` instead of fsync(2), with its
  // result and errno. A slow one shows what waits for it; a failing one, who reports it.
  // Call before any thread saves; empty = fsync(2).
  void setFsync(std::function<int(int)> fsync);

  // How many times this store and its copies decoded state.json: for tests and
  // benchmarks of the caching above.
  uint64_t decodes() const;

  const std::string& dir() const { return dir_; }
  std::string statePath() const { return dir_ + "/state.json"; }
  std::string lockPath() const { return dir_ + "/state.lock"; }

 private:
  explicit StateStore(std::string dir);
  // Renames state.json aside and returns the error load() reports for `problem`.
  Error moveAside(const std::string& problem) const;
  // Removes temp files of writers that were killed; call with the lock held.
  void removeStaleTemps() const;
  // removeStaleTemps(), at most once per kStaleTempScanInterval in write-behind mode.
  void removeStaleTempsIfDue() const;

  std::string dir_;
  struct SnapshotCache;
  std::shared_ptr<SnapshotCache> cache_;  // shared by copies of this store
  struct Durability;
  std::shared_ptr<Durability> durability_;  // write-behind and the fsync seam; shared by copies
};

}  // namespace vnetd
