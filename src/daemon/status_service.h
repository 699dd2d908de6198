// StatusService: answers the control op `status` from facts the daemon holds in memory
// (the state snapshot, JailFacts about each jail's inside, rates, flows, counters) and the
// host's links, read now; it never enters a jail. The loop thread only gathers what
// lives there (the host link poll, rates, flows, the daemon's numbers); everything that
// grows with the number of jails — the "running?" look-up per recorded jail, the reply's
// JSON — is done on the service's own thread once there are more than kInlineJails, so a
// `vnetctl top` refreshing a 500-jail status twice a second does not hold up hooks and
// events waiting for the loop. In-jail
// facts older than kInsideMaxAge are re-read by the JailFactsRefresher meanwhile; the
// reply goes out at once with what is known and how old it is (`inside_age_seconds`).
//
// renderStatus and staleInside are pure (tests feed them facts; no kernel).
// Threading: reply() on the loop thread; `done` runs on the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collectors/capture.h"
#include "core/config.h"
#include "core/state_store.h"
#include "daemon/dispatcher.h"
#include "daemon/job_queue.h"
#include "daemon/jail_facts.h"
#include "daemon/rates.h"
#include "platform/jails.h"
#include "platform/netif.h"

namespace vnetd::daemon {

// Up to this many recorded jails a reply is finished on the loop at once (well under a
// millisecond): handing it to the service thread and back costs two thread wake-ups,
// which on a busy host take longer than the work. Above it, the thread does it.
inline constexpr size_t kInlineJails = 64;
// Up to this many host links of interest status queries each; above, it polls them all
// (see StatusService::reply).
inline constexpr size_t kQueryLinksUpTo = 64;
// In-jail facts older than this are re-read (off the loop) when status is asked.
inline constexpr std::chrono::seconds kInsideMaxAge{10};
// At most one re-reading pass per this period, however often status is asked (`vnetctl
// top -d 0.1` on a host with 500 jails must not keep a core busy entering jails).
inline constexpr std::chrono::seconds kInsideRefreshGap{5};

// The daemon's own numbers, for the reply's "daemon" object.
struct DaemonFacts {
  int64_t pid = 0;
  std::string config_path;
  int64_t uptime_seconds = 0;
  size_t tracked_links = 0;
  size_t queued_jobs = 0;
  size_t control_connections = 0;
  std::string metrics_url;  // "" when /metrics is not served
  std::map<std::string, uint64_t> counters;
};

// Everything one status reply shows.
struct StatusFacts {
  const State* state = nullptr;
  const Config* config = nullptr;
  std::map<std::string, platform::LinkInfo> host_links;              // managed host links present now
  std::map<std::string, std::vector<std::string>> bridge_addresses;  // CIDRs, by bridge interface
  std::map<std::string, platform::JailInfo> running;                 // recorded jails running now
  std::map<std::string, JailFacts::Entry> inside;                    // by jail
  std::map<std::string, LinkRates> rates;                            // by host-side name
  std::map<std::string, uint64_t> flows;                             // active flows by jail
  uint32_t flows_sample = 1;  // [capture] sample: flows were seen in ~1 frame in this many
  std::chrono::steady_clock::time_point now;                         // for the facts' age
  bool inside_refreshing = false;                                    // a re-reading pass is under way
  DaemonFacts daemon;
};

// The reply line for `jail_filter` (empty: every recorded jail), or the error line when
// no recorded jail has that name. Per jail, `inside_age_seconds` says how old the in-jail
// facts are; it is null, and each interface's "jail" shows present: false, while nothing
// is known about the running instance (facts of an earlier instance of a restarted jail
// do not count). The fields are what vnetctl and tests/fuzz/fuzz_vnetctl_status.cc read.
std::string renderStatus(const StatusFacts& facts, const std::string& jail_filter);

// The running jails with their own stack (of facts.running) whose in-jail facts are missing, of another
// instance, or older than `max_age` at facts.now: what a refresh should read.
std::vector<platform::JailInfo> staleInside(const StatusFacts& facts, std::chrono::steady_clock::duration max_age);

class StatusService {
 public:
  using Done = std::function<void(std::string)>;

  // All references must outlive the service. `loop_jails` is the loop thread's handle,
  // `jails` the service thread's own.
  StatusService(Dispatcher& dispatcher, const StateStore& store, platform::NetStack& host,
                platform::Jails& loop_jails, std::unique_ptr<platform::Jails> jails, JailFacts& inside,
                JailFactsRefresher& refresher, const RateSampler& rates);
  // Joins the thread; replies not given yet are dropped (their clients see the close).
  ~StatusService();
  StatusService(const StatusService&) = delete;
  StatusService& operator=(const StatusService&) = delete;

  // Answers one status request: `done` gets the reply line on the loop thread, soon.
  // `capture` may be null (no captures). Loop thread.
  void reply(const std::string& jail_filter, std::shared_ptr<const Config> config,
             const collectors::CaptureManager* capture, DaemonFacts daemon, Done done);

 private:
  // What the loop gathered for one request; the service thread completes and renders it.
  struct Job {
    std::string filter;
    std::shared_ptr<const Config> config;
    std::shared_ptr<const State> state;
    StatusFacts facts;
    Done done;
  };
  // Completes and renders `job` with `jails` (the handle of the calling thread).
  std::string finish(Job& job, platform::Jails& jails);

  Dispatcher& dispatcher_;
  const StateStore& store_;
  platform::NetStack& host_;                // loop thread's handle
  platform::Jails& loop_jails_;             // loop thread's handle
  std::unique_ptr<platform::Jails> jails_;  // service thread's handle
  JailFacts& inside_;
  JailFactsRefresher& refresher_;
  const RateSampler& rates_;

  std::shared_ptr<char> alive_ = std::make_shared<char>(0);  // posted replies check it
  // The service thread (declared last: stopped first, before what its jobs use goes). Its
  // exception boundary answers a request whose rendering threw with an error line.
  JobQueue queue_;
};

}  // namespace vnetd::daemon
