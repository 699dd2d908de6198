// RouterAdvertiser: IPv6 router advertisements on the bridges with
// router_advertisements = true (issue 19), so that jails with address6 = "slaac" form
// their addresses (EUI-64 of their stable MACs) in the bridge's /64 and learn the bridge
// as default router.
//
// Why the daemon sends them itself, on both systems, instead of running FreeBSD's
// rtadvd(8): the configuration already says everything an RA carries (the bridge's /64,
// its MAC and MTU), a router advertisement is a 64-byte message (core/ndp.h, unit-tested
// byte for byte), and one raw ICMPv6 socket per bridge through the RFC 3542 API works the
// same on Linux and FreeBSD (platform/router_socket.h). rtadvd would mean a generated
// rtadvd.conf, a child process to supervise and restart, its control socket and pid file,
// and on Linux a different daemon (radvd) — more moving parts for the same bytes.
//
// Per bridge (RFC 4861 section 6.2): an RA to all nodes (ff02::1) when the bridge is
// first seen, then every kMinIntervalSeconds..kMaxIntervalSeconds (random; the first
// three at most 16 s apart), and one in answer to each valid router solicitation (hosts
// solicit when their link comes up: Linux's kernel does; on FreeBSD, whose kernel does
// not, vnetd's `created` sends the one rtsol(8) would from inside the jail), but
// never two multicast RAs within 3 s: an answer due sooner is sent when the 3 s are up.
// The RA carries the bridge's /64 as on-link and autonomous, the bridge as default router
// (router lifetime 1800 s), its MAC (source link-layer option) and its configured MTU.
// It leaves from the bridge's link-local address (hosts accept RAs only from one); until
// the bridge has one (Linux forms it once a port has carrier, after DAD) it retries every
// second. Nothing is sent when the daemon stops: a restart must not take the jails'
// default route away (RFC 4861 6.2.5's final RA is for a router that stops routing).
//
// Counters ("router_advertisements_sent", "router_solicitations_received",
// "router_solicitations_invalid", "router_advertisement_errors") go to the daemon's
// Counters, shown by `vnetctl status --json`.
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "core/config.h"
#include "daemon/dispatcher.h"
#include "daemon/mutator.h"
#include "platform/netif.h"
#include "platform/router_socket.h"

namespace vnetd::daemon {

class RouterAdvertiser {
 public:
  // `host` looks up the bridges (index, MAC); both outlive this object.
  RouterAdvertiser(Dispatcher& dispatcher, platform::NetStack& host, Counters& counters);
  ~RouterAdvertiser();
  RouterAdvertiser(const RouterAdvertiser&) = delete;
  RouterAdvertiser& operator=(const RouterAdvertiser&) = delete;

  // Advertises on exactly the bridges of `config` with router_advertisements (at start
  // and on every reload): new ones start now, removed ones stop, changed ones start over.
  void apply(const Config& config);

 private:
  struct Bridge;
  void schedule(Bridge& b, std::chrono::milliseconds delay);
  void tick(Bridge& b);
  void onReadable(Bridge& b);
  // Sends one multicast RA now; false when it could not (no bridge, no link-local yet...).
  bool advertise(Bridge& b);
  bool ensureSocket(Bridge& b);
  std::chrono::milliseconds nextInterval(Bridge& b);

  Dispatcher& dispatcher_;
  platform::NetStack& host_;
  Counters& counters_;
  std::minstd_rand random_;
  std::map<std::string, std::unique_ptr<Bridge>> bridges_;  // by [bridge.X] key
};

}  // namespace vnetd::daemon
