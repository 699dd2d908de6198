// The FreeBSD pair-creation order (pair_steps.h) against a recording fake of the kernel
// primitives that also keeps a small model of the interfaces (epair semantics as in
// sys/net/if_epair.c and sys/net/if.c: the clone names both sides epair<N>a/b with
// kernel MACs, renames keep MAC and description, a destroy of either side removes both,
// bridge members refuse MTU changes).
#include "platform/freebsd/pair_steps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vnetd::platform::fbsd {
namespace {

struct Iface {
  std::string name;
  MacAddress mac;
  std::string description;
  uint32_t mtu = 1500;
  bool up = false;
  std::string bridge;
  bool in_jail = false;
};

struct Call {
  std::string op;
  std::string name;
  std::string arg;
};

MacAddress mac(uint8_t last) { return MacAddress{{0x02, 0x11, 0x22, 0x33, 0x44, last}}; }

class RecordingKernel final : public PairPrimitives {
 public:
  std::string clone_name = "epair3a";
  std::optional<size_t> fail_step;       // this step (0 = clone) fails with EIO
  std::optional<size_t> crash_after;     // the process dies after this many steps
  std::set<std::string> destroy_fails;   // destroy of these names fails
  std::vector<Call> calls;               // every call, destroys included
  std::vector<Iface> ifaces;             // host and jail sides that exist

  Result<std::string> clonePair() override {
    VNETD_TRY(step("clone", "", ""));
    // if_epair.c epair_clone_create: kernel MACs 02:..:0a and ..:0b, no description, down.
    ifaces.push_back(side(clone_name, mac(0x0a)));
    if (clone_name.back() == 'a')
      ifaces.push_back(side(clone_name.substr(0, clone_name.size() - 1) + "b", mac(0x0b)));
    return clone_name;
  }
  Result<void> setDescription(const std::string& name, const std::string& text) override {
    VNETD_TRY(step("setDescription", name, text));
    Iface* i = find(name);
    if (!i) return Error{ENODEV, "no " + name};
    i->description = text;
    return success();
  }
  Result<void> setMac(const std::string& name, const MacAddress& m) override {
    VNETD_TRY(step("setMac", name, m.toString()));
    Iface* i = find(name);
    if (!i) return Error{ENODEV, "no " + name};
    i->mac = m;
    return success();
  }
  Result<void> setMtu(const std::string& name, uint32_t mtu) override {
    VNETD_TRY(step("setMtu", name, std::to_string(mtu)));
    Iface* i = find(name);
    if (!i) return Error{ENODEV, "no " + name};
    if (!i->bridge.empty()) return Error{EOPNOTSUPP, "member"};  // ifhwioctl SIOCSIFMTU
    i->mtu = mtu;
    return success();
  }
  Result<void> rename(const std::string& from, const std::string& to) override {
    VNETD_TRY(step("rename", from, to));
    Iface* i = find(from);
    if (!i) return Error{ENODEV, "no " + from};
    if (find(to)) return Error{EEXIST, to + " exists"};
    i->name = to;  // if_rename: MAC and description stay
    return success();
  }
  Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                               bool private_member) override {
    VNETD_TRY(step("addBridgeMember", member, bridge + (private_member ? " private" : "")));
    Iface* i = find(member);
    if (!i) return Error{ENODEV, "no " + member};
    if (i->up) return Error{EINVAL, "has a link-local address (FreeBSD 15)"};
    i->bridge = bridge;
    return success();
  }
  Result<void> moveToJail(const std::string& name, const JailInfo& jail) override {
    VNETD_TRY(step("moveToJail", name, jail.name));
    Iface* i = find(name);
    if (!i) return Error{ENODEV, "no " + name};
    i->in_jail = true;
    i->up = false;
    return success();
  }
  Result<void> setUp(const std::string& name) override {
    VNETD_TRY(step("setUp", name, ""));
    Iface* i = find(name);
    if (!i) return Error{ENODEV, "no " + name};
    i->up = true;
    return success();
  }
  Result<void> destroy(const std::string& name) override {
    calls.push_back({"destroy", name, ""});
    if (dead_ || destroy_fails.count(name)) return Error{EIO, "destroy refused"};
    if (!find(name)) return Error{ENODEV, "no " + name};
    ifaces.clear();  // epair_clone_destroy: both sides, wherever the peer is
    return success();
  }

  size_t steps() const { return steps_; }
  std::vector<Call> destroys() const {
    std::vector<Call> out;
    for (const Call& c : calls)
      if (c.op == "destroy") out.push_back(c);
    return out;
  }
  const Iface* get(const std::string& name) const {
    for (const Iface& i : ifaces)
      if (i.name == name) return &i;
    return nullptr;
  }

 private:
  static Iface side(const std::string& name, const MacAddress& m) {
    Iface i;
    i.name = name;
    i.mac = m;
    return i;
  }
  // Host-side lookup: a side inside the jail is not visible to host ioctls.
  Iface* find(const std::string& name) {
    for (Iface& i : ifaces)
      if (i.name == name && !i.in_jail) return &i;
    return nullptr;
  }
  Result<void> step(const std::string& op, const std::string& name, const std::string& arg) {
    if (dead_) return Error{EIO, "dead"};
    calls.push_back({op, name, arg});
    size_t n = steps_++;
    if (crash_after && n >= *crash_after) {
      dead_ = true;  // nothing after this runs, cleanup included
      return Error{EIO, "crashed"};
    }
    if (fail_step && n == *fail_step) return Error{EIO, "injected failure in " + op};
    return success();
  }

  size_t steps_ = 0;
  bool dead_ = false;
};

const JailInfo kJail{"web", 7, true};

PairSpec fullSpec() {
  PairSpec s;
  s.host_name = "e0a_web";
  s.jail_name = "e0b_web";
  s.host_mac = MacAddress{{0x02, 0xaa, 0, 0, 0, 0x10}};
  s.jail_mac = MacAddress{{0x02, 0xaa, 0, 0, 0, 0x11}};
  s.mtu = 9000;
  s.description = "vnetd:web:0";
  s.bridge = "vnetbr0";
  s.private_member = true;
  s.peer_in_jail = &kJail;
  return s;
}

std::vector<std::string> lines(const std::vector<Call>& calls) {
  std::vector<std::string> out;
  for (const Call& c : calls) {
    std::string line = c.op;
    for (const std::string* part : {&c.name, &c.arg})
      if (!part->empty()) line += " " + *part;
    out.push_back(line);
  }
  return out;
}

TEST(PairSteps, TheOrder) {
  RecordingKernel k;
  PairSpec spec = fullSpec();
  ASSERT_TRUE(createPairInSteps(k, spec));
  EXPECT_EQ(lines(k.calls), (std::vector<std::string>{
                                "clone",
                                "setDescription epair3a vnetd:web:0",
                                "setDescription epair3b vnetd:web:0",
                                "setMac epair3a 02:aa:00:00:00:10",
                                "setMac epair3b 02:aa:00:00:00:11",
                                "setMtu epair3a 9000",
                                "setMtu epair3b 9000",
                                "rename epair3a e0a_web",
                                "rename epair3b e0b_web",
                                "addBridgeMember e0a_web vnetbr0 private",
                                "moveToJail e0b_web web",
                                "setUp e0a_web",
                            }));
  const Iface* a = k.get("e0a_web");
  const Iface* b = k.get("e0b_web");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->mac, spec.host_mac);
  EXPECT_EQ(b->mac, spec.jail_mac);
  EXPECT_EQ(a->description, "vnetd:web:0");
  EXPECT_EQ(b->description, "vnetd:web:0");
  EXPECT_EQ(a->mtu, 9000u);
  EXPECT_EQ(b->mtu, 9000u);
  EXPECT_TRUE(a->up);
  EXPECT_EQ(a->bridge, "vnetbr0");
  EXPECT_TRUE(b->in_jail);
  EXPECT_FALSE(b->up) << "the jail side comes up inside the jail, later";
  EXPECT_TRUE(k.destroys().empty());
}

TEST(PairSteps, MinimalSpec) {
  RecordingKernel k;
  PairSpec spec = fullSpec();
  spec.mtu.reset();
  spec.description.clear();
  spec.bridge.clear();
  spec.peer_in_jail = nullptr;
  ASSERT_TRUE(createPairInSteps(k, spec));
  EXPECT_EQ(lines(k.calls), (std::vector<std::string>{
                                "clone",
                                "setMac epair3a 02:aa:00:00:00:10",
                                "setMac epair3b 02:aa:00:00:00:11",
                                "rename epair3a e0a_web",
                                "rename epair3b e0b_web",
                                "setUp e0a_web",
                            }));
  ASSERT_TRUE(k.get("e0b_web"));
  EXPECT_FALSE(k.get("e0b_web")->in_jail);
}

TEST(PairSteps, MarksPrecedeRenamesAndRenamedNamesAreUsedAfterwards) {
  RecordingKernel k;
  PairSpec spec = fullSpec();
  ASSERT_TRUE(createPairInSteps(k, spec));
  size_t first_rename = k.calls.size();
  for (size_t i = 0; i < k.calls.size(); ++i)
    if (k.calls[i].op == "rename") first_rename = std::min(first_rename, i);
  ASSERT_LT(first_rename, k.calls.size());
  std::set<std::string> marked;  // "op name" pairs seen before the first rename
  for (size_t i = 0; i < first_rename; ++i) marked.insert(k.calls[i].op + " " + k.calls[i].name);
  for (const char* side : {"epair3a", "epair3b"})
    for (const char* op : {"setDescription", "setMac", "setMtu"})
      EXPECT_TRUE(marked.count(std::string(op) + " " + side)) << op << " " << side;
  // After a side's rename, only its new name is used.
  bool a_renamed = false, b_renamed = false;
  for (const Call& c : k.calls) {
    if (a_renamed) {
      EXPECT_NE(c.name, "epair3a") << c.op;
    }
    if (b_renamed) {
      EXPECT_NE(c.name, "epair3b") << c.op;
    }
    if (c.op == "rename" && c.name == "epair3a") a_renamed = true;
    if (c.op == "rename" && c.name == "epair3b") b_renamed = true;
  }
  EXPECT_TRUE(a_renamed && b_renamed);
}

TEST(PairSteps, AFailureAtEachStepLeavesNothing) {
  RecordingKernel ok;
  ASSERT_TRUE(createPairInSteps(ok, fullSpec()));
  const size_t steps = ok.steps();
  ASSERT_EQ(steps, 12u);
  for (size_t fail = 0; fail < steps; ++fail) {
    SCOPED_TRACE("failing step " + std::to_string(fail) + ": " + ok.calls[fail].op + " " +
                 ok.calls[fail].name);
    RecordingKernel k;
    k.fail_step = fail;
    auto r = createPairInSteps(k, fullSpec());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EIO);
    EXPECT_EQ(r.error().context, "injected failure in " + ok.calls[fail].op);
    EXPECT_TRUE(k.ifaces.empty()) << "left behind: " << k.ifaces.front().name;
    if (fail == 0) {
      EXPECT_TRUE(k.destroys().empty()) << "nothing was created";
      continue;
    }
    // Destroyed once, by the name the host side had when the step failed: the a side
    // is renamed by step 7.
    auto destroys = k.destroys();
    ASSERT_EQ(destroys.size(), 1u);
    EXPECT_EQ(destroys[0].name, fail <= 7 ? "epair3a" : "e0a_web");
  }
}

TEST(PairSteps, ACrashAtAnyStepLeavesOnlyRecognisableInterfaces) {
  // The process dies after `crash` steps: nothing cleans up. Whatever is left must carry
  // the description and its side's MAC, except right after the clone, and then only
  // under the kernel's epair<N>a/b names — never a final name without the marks.
  RecordingKernel ok;
  PairSpec spec = fullSpec();
  ASSERT_TRUE(createPairInSteps(ok, spec));
  size_t marks_done = 0;  // steps until both sides carry description and MAC
  for (size_t i = 0; i < ok.calls.size(); ++i)
    if (ok.calls[i].op == "setMac" || ok.calls[i].op == "setDescription") marks_done = i + 1;
  ASSERT_EQ(marks_done, 5u);
  for (size_t crash = 1; crash < ok.steps(); ++crash) {
    SCOPED_TRACE("crash after " + std::to_string(crash) + " steps");
    RecordingKernel k;
    k.crash_after = crash;
    ASSERT_FALSE(createPairInSteps(k, spec));
    ASSERT_EQ(k.ifaces.size(), 2u);
    for (const Iface& i : k.ifaces) {
      const bool host_side = i.name == "epair3a" || i.name == spec.host_name;
      const bool marked = i.description == spec.description &&
                          i.mac == (host_side ? spec.host_mac : spec.jail_mac);
      if (i.name == spec.host_name || i.name == spec.jail_name) {
        EXPECT_TRUE(marked) << i.name << " renamed before it was marked";
      }
      if (crash >= marks_done) {
        EXPECT_TRUE(marked) << i.name;
      }
      if (!marked) {
        EXPECT_TRUE(i.name == "epair3a" || i.name == "epair3b") << i.name;
      }
    }
  }
}

TEST(PairSteps, CleanupFallsBackToTheJailSideWhileItIsHere) {
  PairSpec spec = fullSpec();
  {  // bridge join fails, the host side will not go: the jail side's name removes both
    RecordingKernel k;
    k.fail_step = 9;  // addBridgeMember
    k.destroy_fails = {"e0a_web"};
    auto r = createPairInSteps(k, spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(lines(k.destroys()), (std::vector<std::string>{"destroy e0a_web", "destroy e0b_web"}));
    EXPECT_TRUE(k.ifaces.empty());
    EXPECT_EQ(r.error().context, "injected failure in addBridgeMember");
  }
  {  // neither goes: the error says so, with both names
    RecordingKernel k;
    k.fail_step = 9;
    k.destroy_fails = {"e0a_web", "e0b_web"};
    auto r = createPairInSteps(k, spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EIO);
    EXPECT_NE(r.error().context.find("injected failure in addBridgeMember (and removing the "
                                     "half-made pair e0a_web/e0b_web failed: destroy refused"),
              std::string::npos)
        << r.error().context;
  }
  {  // after the move the jail side is not in this stack: no fallback to its name
    RecordingKernel k;
    k.fail_step = 11;  // setUp
    k.destroy_fails = {"e0a_web"};
    auto r = createPairInSteps(k, spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(lines(k.destroys()), (std::vector<std::string>{"destroy e0a_web"}));
  }
}

TEST(PairSteps, UnexpectedCloneNameIsDestroyed) {
  RecordingKernel k;
  k.clone_name = "epair3";
  auto r = createPairInSteps(k, fullSpec());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().context,
            "create pair e0a_web/e0b_web: the epair cloner returned the unexpected name 'epair3'");
  EXPECT_EQ(lines(k.destroys()), (std::vector<std::string>{"destroy epair3"}));
  EXPECT_TRUE(k.ifaces.empty());
}

TEST(PairSteps, PeerName) {
  EXPECT_EQ(epairPeerName("epair0a"), "epair0b");
  EXPECT_EQ(epairPeerName("epair123a"), "epair123b");
  EXPECT_FALSE(epairPeerName("epair0b"));
  EXPECT_FALSE(epairPeerName("a"));
  EXPECT_FALSE(epairPeerName(""));
}

}  // namespace
}  // namespace vnetd::platform::fbsd
