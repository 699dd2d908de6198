// hook_floor_kernel — the kernel floor of each hook phase (bench/hook_latency).
//
// One process issues, for N jails, exactly the rtnetlink requests that leave the kernel in
// the state each vnetd hook phase leaves it in (Linux backend: src/platform/linux/netstack.cc
// driven by src/core/jail_network.cc, with the jail's namespace existing before prestart,
// as in the bench), with as few messages and round trips as the kernel allows. No state,
// no configuration, no exec, no dumps: what is left is the kernel's own work plus one
// sendmsg/recvmsg per phase — the floor under any hook implementation.
//
// Per jail J (namespace /run/netns/J must exist), host side e0a_J, jail side e0b_J (the
// names vnetd gives interface 0; its default jail-side name is the generated one, so
// `created` renames nothing):
//   prestart  one request: [RTM_NEWLINK create veth: host name, MAC, MTU, IFLA_MASTER = the
//             bridge, IFF_UP; peer: name, MAC, MTU, IFLA_NET_NS_FD = the jail]
//             [RTM_NEWLINK host side IFLA_IFALIAS "vnetd:J:0"] — the alias cannot ride on
//             the creation: rtnl_create_link (net/core/rtnetlink.c) takes MTU, address,
//             txqlen, ... but not IFLA_IFALIAS; flags and IFLA_MASTER it does take
//             (rtnl_newlink_create: rtnl_configure_link, then do_set_master).
//   created   a netlink socket inside the jail, the jail side's index (SIOCGIFINDEX: one
//             syscall, no message — RTM_NEWADDR names the device by index only), then one
//             request: [RTM_NEWLINK e0b_J IFLA_IFALIAS + IFF_UP (do_setlink sets the alias
//             before the flags)] [RTM_NEWADDR address/prefix] [RTM_NEWLINK lo IFF_UP]
//             [RTM_NEWROUTE default via the gateway].
//   poststop  the jail stops first, untimed: its namespace loses its name as `ip netns del`
//             does (iproute2 ip/ipnetns.c on_netns_del: umount2 MNT_DETACH, then unlink) —
//             vnetd refuses a poststop while the jail runs (jail_network.cc poststop), as
//             jail(8) runs exec.poststop only after removing the jail — but the namespace
//             itself is held (an open file) until every poststop is done, as the bench
//             does for vnetd and the script: otherwise Linux destroys the pair by itself,
//             asynchronously, once the namespace is freed (net/core/dev.c
//             default_device_exit_batch calls the veth's dellink), and every poststop would
//             race that cleanup instead of doing the work FreeBSD's exec.poststop does
//             (destroy the epair its jail handed back). Then [RTM_DELLINK e0a_J] (either
//             end of a veth destroys both).
// Only the last message of a request asks for an ACK (NLM_F_ACK): the kernel reports a
// failing message whether or not it was asked to (net/netlink/af_netlink.c
// netlink_rcv_skb acks when NLM_F_ACK is set or err != 0) and goes on with the next, so
// one recv normally completes the phase and an error still names its message.
//
// usage: hook_floor_kernel PHASE BRIDGE JAIL_PREFIX N FIRST_ADDRESS/PREFIXLEN GATEWAY
//   PHASE: all (per jail prestart then created; then every poststop — the bench's order),
//          stepwise (the same, but after each jail's created and after each poststop it
//          prints "step" and waits for a line on standard input: the bench runs the
//          script's jail in between, as it does between the daemon's jails, so the floor
//          pays for the same background kernel work — the script's interfaces' IPv6
//          address configuration, DAD and MLD timers, RCU callbacks — that the daemon
//          pass does),
//          prestart, created or poststop (one phase for every jail: to inspect each step;
//          poststop takes the jails' namespaces away, as their stop would).
//   Jails JAIL_PREFIX1..N; jail i gets FIRST_ADDRESS + i - 1.
// Prints per phase run: "<phase> <median_us> <min_us> <max_us> <n>".
#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "hook_floor_kernel: %s\n", what.c_str());
  std::exit(1);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

class Socket {
 public:
  explicit Socket(mnl_socket* s) : s_(s) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (s_) mnl_socket_close(s_);
  }
  mnl_socket* get() const { return s_; }

 private:
  mnl_socket* s_;
};

struct Jail {
  std::string name, host, peer, alias;
  uint8_t host_mac[6], jail_mac[6];
  in_addr address;
};

struct Setup {
  int host_ns = -1;  // this process's namespace, to come back to after opening a jail's socket
  uint32_t bridge_index = 0;
  uint32_t mtu = 0;  // the bridge's: vnetd gives both ends its bridge's MTU
  uint8_t prefix = 0;
  in_addr gateway{};
  mnl_socket* host = nullptr;
  uint32_t seq = 1;
};

// A netlink socket in the namespace `ns` (-1: this one). The namespace of a socket is the
// one its creator is in at socket() time; setns there and back costs two syscalls.
mnl_socket* openSocket(const Setup& s, int ns, const std::string& where) {
  if (ns >= 0 && ::setns(ns, CLONE_NEWNET) != 0) die("setns into " + where + ": " + std::strerror(errno));
  mnl_socket* sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  int saved = errno;
  if (ns >= 0 && ::setns(s.host_ns, CLONE_NEWNET) != 0) die(std::string("setns back: ") + std::strerror(errno));
  if (!sock) die("netlink socket in " + where + ": " + std::strerror(saved));
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) != 0) die("bind netlink socket: " + std::string(std::strerror(errno)));
  int one = 1;
  // Errors with the kernel's text (extack); acks without a copy of the request.
  mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof one);
  return sock;
}

nlmsghdr* begin(mnl_nlmsg_batch* b, uint16_t type, uint16_t flags, Setup& s) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = s.seq++;
  return nlh;
}

ifinfomsg* linkHeader(nlmsghdr* nlh) {
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  return ifi;
}

void next(mnl_nlmsg_batch* b) {
  if (!mnl_nlmsg_batch_next(b)) die("request buffer too small");
}

// Sends the batch in one sendmsg and reads until the last message's ACK. Any message's
// error fails the phase, named by `what` (one entry per message, in order).
void exchange(mnl_socket* sock, mnl_nlmsg_batch* b, const std::vector<std::string>& what) {
  auto* head = static_cast<nlmsghdr*>(mnl_nlmsg_batch_head(b));
  const uint32_t first = head->nlmsg_seq;
  const uint32_t last = first + static_cast<uint32_t>(what.size()) - 1;
  if (mnl_socket_sendto(sock, head, mnl_nlmsg_batch_size(b)) < 0)
    die("send " + what.front() + ": " + std::strerror(errno));
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof buf);
    if (n < 0) die("receive the reply to " + what.back() + ": " + std::strerror(errno));
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq < first || nlh->nlmsg_seq > last) continue;
      auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (e->error != 0) die(what[nlh->nlmsg_seq - first] + ": " + std::strerror(-e->error));
      if (nlh->nlmsg_seq == last) return;
    }
  }
}

void prestart(Setup& s, const Jail& j) {
  Fd ns(::open(("/run/netns/" + j.name).c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) die("open /run/netns/" + j.name + ": " + std::strerror(errno) + " (create the namespace first)");
  alignas(nlmsghdr) char buf[8192];
  mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(buf, sizeof buf);

  nlmsghdr* nlh = begin(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, s);
  ifinfomsg* ifi = linkHeader(nlh);
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, j.host.c_str());
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, j.host_mac);
  mnl_attr_put_u32(nlh, IFLA_MTU, s.mtu);
  mnl_attr_put_u32(nlh, IFLA_MASTER, s.bridge_index);
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  linkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, j.peer.c_str());
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, j.jail_mac);
  mnl_attr_put_u32(nlh, IFLA_MTU, s.mtu);
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(ns.get()));
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  next(b);

  nlh = begin(b, RTM_NEWLINK, NLM_F_ACK, s);
  linkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, j.host.c_str());
  mnl_attr_put_strz(nlh, IFLA_IFALIAS, j.alias.c_str());
  next(b);

  exchange(s.host, b, {"create pair " + j.host + "/" + j.peer, "set description on " + j.host});
  mnl_nlmsg_batch_stop(b);
}

void created(Setup& s, const Jail& j) {
  Fd ns(::open(("/run/netns/" + j.name).c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) die("open /run/netns/" + j.name + ": " + std::strerror(errno));
  Socket inside(openSocket(s, ns.get(), "jail " + j.name));
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", j.peer.c_str());
  // Any socket answers for its own namespace (net/socket.c sock_do_ioctl hands what the
  // protocol does not know to dev_ioctl with the socket's namespace).
  if (::ioctl(mnl_socket_get_fd(inside.get()), SIOCGIFINDEX, &ifr) != 0)
    die("no " + j.peer + " in jail " + j.name + ": " + std::strerror(errno) + " (run prestart first)");

  alignas(nlmsghdr) char buf[8192];
  mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(buf, sizeof buf);

  nlmsghdr* nlh = begin(b, RTM_NEWLINK, 0, s);
  ifinfomsg* ifi = linkHeader(nlh);
  ifi->ifi_index = ifr.ifr_ifindex;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFALIAS, j.alias.c_str());
  next(b);

  nlh = begin(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, s);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = s.prefix;
  ifa->ifa_index = static_cast<uint32_t>(ifr.ifr_ifindex);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  mnl_attr_put(nlh, IFA_LOCAL, 4, &j.address);
  mnl_attr_put(nlh, IFA_ADDRESS, 4, &j.address);
  next(b);

  nlh = begin(b, RTM_NEWLINK, 0, s);
  ifi = linkHeader(nlh);
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo");
  next(b);

  nlh = begin(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, s);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(nlh, RTA_GATEWAY, 4, &s.gateway);
  next(b);

  exchange(inside.get(), b,
           {"describe and bring up " + j.peer, "add address to " + j.peer, "bring up lo", "set default route"});
  mnl_nlmsg_batch_stop(b);
}

// The jail stops (not part of the hook): its namespace loses its name, as `ip netns del`
// does, while the returned file keeps the namespace (and so the pair) alive.
Fd stopJail(const Jail& j) {
  const std::string path = "/run/netns/" + j.name;
  Fd held(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (held.get() < 0) die("open " + path + ": " + std::strerror(errno) + " (no such jail, or stopped already)");
  if (::umount2(path.c_str(), MNT_DETACH) != 0) die("unmount " + path + ": " + std::strerror(errno));
  if (::unlink(path.c_str()) != 0) die("remove " + path + ": " + std::strerror(errno));
  return held;
}

void poststop(Setup& s, const Jail& j) {
  alignas(nlmsghdr) char buf[1024];
  mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(buf, sizeof buf);
  nlmsghdr* nlh = begin(b, RTM_DELLINK, NLM_F_ACK, s);
  linkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, j.host.c_str());
  next(b);
  exchange(s.host, b, {"destroy " + j.host});
  mnl_nlmsg_batch_stop(b);
}

int64_t nowUs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void report(const char* phase, std::vector<int64_t> us) {
  std::sort(us.begin(), us.end());
  const size_t n = us.size();
  const int64_t median = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
  std::printf("%s %lld %lld %lld %zu\n", phase, static_cast<long long>(median), static_cast<long long>(us.front()),
              static_cast<long long>(us.back()), n);
}

// The bridge's index and MTU, read once: a property of the host, not of any jail.
void readBridge(Setup& s, const std::string& bridge) {
  ifreq ifr{};
  if (bridge.size() >= sizeof ifr.ifr_name) die("bridge name " + bridge + " is too long");
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", bridge.c_str());
  int fd = mnl_socket_get_fd(s.host);
  if (::ioctl(fd, SIOCGIFINDEX, &ifr) != 0) die("no bridge " + bridge + ": " + std::strerror(errno));
  s.bridge_index = static_cast<uint32_t>(ifr.ifr_ifindex);
  if (::ioctl(fd, SIOCGIFMTU, &ifr) != 0) die("mtu of " + bridge + ": " + std::strerror(errno));
  s.mtu = static_cast<uint32_t>(ifr.ifr_mtu);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7)
    die("usage: hook_floor_kernel all|stepwise|prestart|created|poststop BRIDGE JAIL_PREFIX N FIRST_ADDRESS/PREFIXLEN "
        "GATEWAY");
  const std::string phase = argv[1], bridge = argv[2], prefix = argv[3];
  if (phase != "all" && phase != "stepwise" && phase != "prestart" && phase != "created" && phase != "poststop")
    die("unknown phase '" + phase + "' (all, stepwise, prestart, created or poststop)");
  const bool stepwise = phase == "stepwise";
  // Stepwise: tell the bench this step is done, and wait for it to say go on.
  auto step = [&] {
    if (!stepwise) return;
    std::printf("step\n");
    std::fflush(stdout);
    char line[16];
    if (!std::fgets(line, sizeof line, stdin)) die("stepwise: standard input closed");
  };
  char* end = nullptr;
  const long n = std::strtol(argv[4], &end, 10);
  if (*end || n < 1 || n > 250) die(std::string("N must be 1..250, not '") + argv[4] + "'");
  if (4 + prefix.size() + std::to_string(n).size() > IFNAMSIZ - 1)
    die("jail prefix '" + prefix + "' too long: e0a_" + prefix + std::to_string(n) + " exceeds 15 characters");

  Setup s;
  std::string first = argv[5];
  auto slash = first.find('/');
  in_addr base{};
  long plen = slash == std::string::npos ? -1 : std::strtol(first.c_str() + slash + 1, &end, 10);
  if (slash == std::string::npos || *end || plen < 1 || plen > 32 ||
      ::inet_pton(AF_INET, first.substr(0, slash).c_str(), &base) != 1)
    die("FIRST_ADDRESS/PREFIXLEN '" + first + "' is not an IPv4 address with a prefix length (e.g. 198.19.201.10/24)");
  s.prefix = static_cast<uint8_t>(plen);
  if (::inet_pton(AF_INET, argv[6], &s.gateway) != 1) die(std::string("GATEWAY '") + argv[6] + "' is not an IPv4 address");

  Fd host_ns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (host_ns.get() < 0) die(std::string("open /proc/self/ns/net: ") + std::strerror(errno));
  s.host_ns = host_ns.get();
  Socket host(openSocket(s, -1, "this namespace"));
  s.host = host.get();
  readBridge(s, bridge);

  // A MAC byte of the prefix, so two runs with different prefixes never share MACs.
  uint8_t tag = 0;
  for (char c : prefix) tag = static_cast<uint8_t>(tag * 31 + static_cast<uint8_t>(c));
  std::vector<Jail> jails(static_cast<size_t>(n));
  for (long i = 1; i <= n; ++i) {
    Jail& j = jails[static_cast<size_t>(i - 1)];
    j.name = prefix + std::to_string(i);
    j.host = "e0a_" + j.name;
    j.peer = "e0b_" + j.name;
    j.alias = "vnetd:" + j.name + ":0";  // the description vnetd gives interface 0 (pairDescription)
    const uint8_t hi = static_cast<uint8_t>(i >> 8), lo = static_cast<uint8_t>(i);
    const uint8_t a[6] = {0x02, 0xfb, tag, 0x0a, hi, lo}, b[6] = {0x02, 0xfb, tag, 0x0b, hi, lo};
    std::memcpy(j.host_mac, a, 6);
    std::memcpy(j.jail_mac, b, 6);
    j.address.s_addr = htonl(ntohl(base.s_addr) + static_cast<uint32_t>(i - 1));
  }

  std::vector<int64_t> pre, cre, post;
  auto timed = [](auto&& f, std::vector<int64_t>& out) {
    const int64_t t0 = nowUs();
    f();
    out.push_back(nowUs() - t0);
  };
  const bool every = phase == "all" || stepwise;
  for (const Jail& j : jails) {
    if (every || phase == "prestart") timed([&] { prestart(s, j); }, pre);
    if (every || phase == "created") timed([&] { created(s, j); }, cre);
    step();
  }
  if (every || phase == "poststop") {
    // Freed only after the loop: a namespace freed at once is cleaned up in the background
    // while the next jail's pair is destroyed, and both want the RTNL.
    std::vector<Fd> held;
    for (const Jail& j : jails) {
      held.push_back(stopJail(j));
      timed([&] { poststop(s, j); }, post);
      step();
    }
  }
  if (!pre.empty()) report("prestart", pre);
  if (!cre.empty()) report("created", cre);
  if (!post.empty()) report("poststop", post);
  return 0;
}
