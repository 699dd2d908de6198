// The status reply built from facts given by hand (renderStatus, staleInside: no kernel),
// and the service's promise that a status request never opens a jail's stack on the
// calling (loop) thread: fakes stand in for the kernel.
#include "daemon/status_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace vnetd::daemon {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using platform::AddressInfo;
using platform::JailInfo;
using platform::LinkInfo;
using Clock = std::chrono::steady_clock;

LinkInfo makeLink(uint32_t index, const std::string& name, bool up = true, uint32_t master = 0) {
  LinkInfo l;
  l.index = index;
  l.name = name;
  l.admin_up = up;
  l.running = up;
  l.mtu = 1500;
  l.master_index = master;
  return l;
}

AddressInfo address(uint32_t index, const char* cidr) { return AddressInfo{index, *Cidr::parse(cidr)}; }

InterfaceRecord record(const std::string& jail, const char* cidr) {
  InterfaceRecord ir;
  ir.host_name = "e0a_" + jail;
  ir.jail_name = "e0b_" + jail;
  ir.host_mac = "02:00:00:00:00:0a";
  ir.jail_mac = "02:00:00:00:00:0b";
  ir.bridge = "br0";
  ir.addresses = {cidr};
  return ir;
}

class StatusFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BridgeConfig br;
    br.name = "lan";
    br.interface = "br0";
    config_.bridges["lan"] = br;
    config_.digest = "0123456789abcdef";
    for (const auto& [jail, cidr] : {std::pair{"web", "198.18.0.2/24"}, std::pair{"db", "198.18.0.3/24"}}) {
      JailRecord rec;
      rec.name = jail;
      rec.phase = "created";
      rec.updated_at = 1700000000;
      rec.interfaces = {record(jail, cidr)};
      state_.jails[jail] = rec;
    }
    state_.generation = 7;
    facts_.state = &state_;
    facts_.config = &config_;
    facts_.now = Clock::time_point{} + 1000s;
    facts_.host_links = {{"br0", makeLink(1, "br0")}, {"e0a_web", makeLink(2, "e0a_web", true, 1)},
                         {"e0a_db", makeLink(3, "e0a_db", true, 0)}};
    facts_.host_links["e0a_web"].counters.rx_packets = 5;  // the jail sent 5
    facts_.host_links["e0a_web"].counters.tx_packets = 9;  // the jail received 9
    facts_.bridge_addresses["br0"] = {"198.18.0.1/24"};
    facts_.running = {{"web", JailInfo{"web", 11, true}}, {"db", JailInfo{"db", 12, true}}};
    facts_.inside["web"] = inside(11, 3s, "e0b_web", "198.18.0.2/24");
    facts_.rates["e0a_web"] = LinkRates{8000, 16000, 1, 2, 2};
    facts_.flows["web"] = 4;
    facts_.daemon.pid = 4242;
    facts_.daemon.config_path = "/etc/vnetd.toml";
    facts_.daemon.queued_jobs = 2;
    facts_.daemon.counters = {{"requests_status", 3}};
  }

  // What a reading of jail instance `jid` found, `age` before facts_.now.
  JailFacts::Entry inside(int64_t jid, Clock::duration age, const std::string& ifname, const char* cidr) {
    JailInside in;
    in.jail_id = jid;
    in.read_at = facts_.now - age;
    in.links = {makeLink(1, "lo0"), makeLink(5, ifname)};
    in.addresses = {address(5, cidr), address(1, "127.0.0.1/8")};
    return std::make_shared<const JailInside>(in);
  }

  Json render(const std::string& filter = "") {
    Json doc = Json::parse(renderStatus(facts_, filter), nullptr, false);
    EXPECT_TRUE(doc.is_object());
    return doc;
  }
  static const Json& jail(const Json& doc, const std::string& name) {
    for (const auto& j : doc["jails"])
      if (j["name"] == name) return j;
    static const Json none;
    ADD_FAILURE() << "no jail " << name << " in " << doc.dump();
    return none;
  }

  Config config_;
  State state_;
  StatusFacts facts_;
};

TEST_F(StatusFactsTest, InJailFactsComeFromMemoryWithTheirAge) {
  Json doc = render();
  ASSERT_EQ(doc["ok"], true);
  const Json& web = jail(doc, "web");
  EXPECT_EQ(web["running"], true);
  EXPECT_EQ(web["jid"], 11);
  EXPECT_DOUBLE_EQ(web["inside_age_seconds"].get<double>(), 3.0);
  const Json& side = web["interfaces"][0]["jail"];
  EXPECT_EQ(side["present"], true);
  EXPECT_EQ(side["up"], true);
  EXPECT_EQ(side["addresses"], Json::array({"198.18.0.2/24"})) << "only the addresses of that link";
}

TEST_F(StatusFactsTest, NothingKnownInsideIsSaidAsSuch) {
  Json doc = render();
  const Json& db = jail(doc, "db");  // running, never read
  EXPECT_EQ(db["running"], true);
  EXPECT_TRUE(db["inside_age_seconds"].is_null());
  EXPECT_EQ(db["interfaces"][0]["jail"], Json({{"present", false}}));
}

TEST_F(StatusFactsTest, FactsOfAnEarlierInstanceOfARestartedJailDoNotCount) {
  facts_.running["web"].id = 99;  // restarted: another jid
  Json doc = render();
  const Json& web = jail(doc, "web");
  EXPECT_EQ(web["jid"], 99);
  EXPECT_TRUE(web["inside_age_seconds"].is_null());
  EXPECT_EQ(web["interfaces"][0]["jail"]["present"], false);
}

TEST_F(StatusFactsTest, AStoppedJailIsRecordedNotRunning) {
  facts_.running.erase("web");
  Json doc = render();
  const Json& web = jail(doc, "web");
  EXPECT_EQ(web["running"], false);
  EXPECT_FALSE(web.contains("jid"));
  EXPECT_TRUE(web["inside_age_seconds"].is_null());
  EXPECT_EQ(web["interfaces"][0]["jail"]["present"], false);
}

TEST_F(StatusFactsTest, HostSidesBridgesAndCountersFromTheJailsPointOfView) {
  Json doc = render();
  const Json& i = jail(doc, "web")["interfaces"][0];
  EXPECT_EQ(i["host_name"], "e0a_web");
  EXPECT_EQ(i["jail_name"], "e0b_web");
  EXPECT_EQ(i["host_mac"], "02:00:00:00:00:0a");
  EXPECT_EQ(i["jail_mac"], "02:00:00:00:00:0b");
  EXPECT_EQ(i["addresses"], Json::array({"198.18.0.2/24"}));
  EXPECT_EQ(i["host"]["present"], true);
  EXPECT_EQ(i["host"]["in_bridge"], true);
  EXPECT_EQ(i["counters"]["tx_packets"], 5);
  EXPECT_EQ(i["counters"]["rx_packets"], 9);
  EXPECT_DOUBLE_EQ(i["rates"]["rx_bps"].get<double>(), 8000);
  EXPECT_EQ(jail(doc, "web")["flows"], 4);
  EXPECT_EQ(jail(doc, "db")["interfaces"][0]["host"]["in_bridge"], false) << "its master is not br0";
  EXPECT_FALSE(jail(doc, "db")["interfaces"][0].contains("rates"));
  ASSERT_EQ(doc["bridges"].size(), 1u);
  const Json& b = doc["bridges"][0];
  EXPECT_EQ(b["name"], "lan");
  EXPECT_EQ(b["interface"], "br0");
  EXPECT_EQ(b["present"], true);
  EXPECT_EQ(b["jail_members"], 1);
  EXPECT_EQ(b["addresses"], Json::array({"198.18.0.1/24"}));

  facts_.host_links.erase("e0a_web");
  doc = render();
  EXPECT_EQ(jail(doc, "web")["interfaces"][0]["host"], Json({{"present", false}}));
  EXPECT_FALSE(jail(doc, "web")["interfaces"][0].contains("counters"));
  EXPECT_EQ(doc["bridges"][0]["jail_members"], 0);
}

TEST_F(StatusFactsTest, TheDaemonObjectKeepsItsFieldsAndSaysHowOldFactsMayGet) {
  facts_.inside_refreshing = true;
  Json d = render()["daemon"];
  for (const char* key : {"version", "pid", "config", "config_digest", "uptime_seconds", "state_generation",
                          "tracked_links", "queued_jobs", "control_connections", "metrics_url"})
    EXPECT_TRUE(d.contains(key)) << key;
  EXPECT_EQ(d["pid"], 4242);
  EXPECT_EQ(d["config"], "/etc/vnetd.toml");
  EXPECT_EQ(d["config_digest"], "0123456789abcdef");
  EXPECT_EQ(d["state_generation"], 7);
  EXPECT_EQ(d["queued_jobs"], 2);
  EXPECT_EQ(d["inside_max_age_seconds"], std::chrono::seconds(kInsideMaxAge).count());
  EXPECT_EQ(d["inside_refreshing"], true);
  EXPECT_EQ(render()["counters"]["requests_status"], 3);
}

TEST_F(StatusFactsTest, OneJailOrAClearError) {
  Json doc = render("db");
  ASSERT_EQ(doc["jails"].size(), 1u);
  EXPECT_EQ(doc["jails"][0]["name"], "db");
  Json err = Json::parse(renderStatus(facts_, "nosuch"), nullptr, false);
  EXPECT_EQ(err["ok"], false);
  EXPECT_NE(err.dump().find("no jail 'nosuch' is recorded by vnetd"), std::string::npos) << err.dump();
}

TEST_F(StatusFactsTest, StaleAreTheUnknownTheOtherInstanceAndTheOld) {
  auto names = [&](Clock::duration max_age) {
    std::vector<std::string> out;
    for (const auto& j : staleInside(facts_, max_age)) out.push_back(j.name);
    return out;
  };
  EXPECT_EQ(names(10s), (std::vector<std::string>{"db"})) << "web was read 3 s ago";
  EXPECT_EQ(names(2s), (std::vector<std::string>{"db", "web"}));
  facts_.inside["db"] = inside(12, 1s, "e0b_db", "198.18.0.3/24");
  EXPECT_TRUE(names(10s).empty());
  facts_.running["db"].id = 13;
  EXPECT_EQ(names(10s), (std::vector<std::string>{"db"}));
  facts_.running["db"].own_stack = false;  // nothing of vnetd's can be inside
  EXPECT_TRUE(names(10s).empty());
}

// ------------------------------------------------------------- the service, with fakes

// The host: status may read its links and a bridge's addresses, nothing else.
class HostStack final : public platform::NetStack {
 public:
  std::map<std::string, LinkInfo> links_;
  int polls = 0;
  Result<std::vector<LinkInfo>> links() override { return unexpected("links"); }
  Result<std::vector<LinkInfo>> pollLinks() override {
    ++polls;
    std::vector<LinkInfo> out;
    for (const auto& [name, l] : links_) out.push_back(l);
    return out;
  }
  int queries = 0;
  Result<std::optional<LinkInfo>> link(const std::string& name) override {
    ++queries;
    auto it = links_.find(name);
    return it == links_.end() ? std::optional<LinkInfo>() : std::optional<LinkInfo>(it->second);
  }
  Result<std::vector<AddressInfo>> addresses(uint32_t index) override {
    if (index == 1) return std::vector<AddressInfo>{address(1, "198.18.0.1/24")};
    return std::vector<AddressInfo>{};
  }
  Result<void> createPair(const platform::PairSpec&) override { return unexpected("createPair"); }
  Result<void> createBridge(const std::string&, std::optional<uint32_t>) override { return unexpected("createBridge"); }
  Result<void> createVlan(const std::string&, const std::string&, uint16_t) override { return unexpected("createVlan"); }
  Result<void> destroyLink(const std::string&) override { return unexpected("destroyLink"); }
  Result<void> addBridgeMember(const std::string&, const std::string&, bool) override { return unexpected("addm"); }
  Result<std::vector<platform::NeighbourInfo>> neighbours(uint32_t) override { return unexpected("neighbours"); }
  Result<void> moveToJail(const std::string&, const JailInfo&) override { return unexpected("moveToJail"); }
  Result<void> reclaimFromJail(const std::string&, const JailInfo&) override { return unexpected("reclaim"); }
  Result<void> rename(const std::string&, const std::string&) override { return unexpected("rename"); }
  Result<void> setMtu(const std::string&, uint32_t) override { return unexpected("setMtu"); }
  Result<void> setMac(const std::string&, const MacAddress&) override { return unexpected("setMac"); }
  Result<void> setDescription(const std::string&, const std::string&) override { return unexpected("descr"); }
  Result<void> setUp(const std::string&, bool) override { return unexpected("setUp"); }
  Result<void> addAddress(const std::string&, const Cidr&) override { return unexpected("addAddress"); }
  Result<std::vector<platform::RouteInfo>> defaultRoutes() override { return unexpected("defaultRoutes"); }
  Result<void> setDefaultRoute(const IpAddress&) override { return unexpected("setDefaultRoute"); }
  Result<void> loopbackUp() override { return unexpected("loopbackUp"); }
  Result<void> enableIpv6(const std::string&) override { return unexpected("enableIpv6"); }
  Result<bool> ipv6Enabled(const std::string&) override { return unexpected("ipv6Enabled"); }

 private:
  static Error unexpected(const char* what) {
    ADD_FAILURE() << "status changed or dumped the host: " << what;
    return plainError(what);
  }
};

// A jail's stack as the refresher reads it.
class InsideStack final : public platform::NetStack {
 public:
  explicit InsideStack(std::string ifname) : ifname_(std::move(ifname)) {}
  Result<std::vector<LinkInfo>> links() override { return std::vector<LinkInfo>{makeLink(5, ifname_)}; }
  Result<std::vector<AddressInfo>> addresses(uint32_t) override {
    return std::vector<AddressInfo>{address(5, "198.18.0.3/24")};
  }
  Result<std::optional<LinkInfo>> link(const std::string&) override { return no(); }
  Result<void> createPair(const platform::PairSpec&) override { return no(); }
  Result<void> createBridge(const std::string&, std::optional<uint32_t>) override { return no(); }
  Result<void> createVlan(const std::string&, const std::string&, uint16_t) override { return no(); }
  Result<void> destroyLink(const std::string&) override { return no(); }
  Result<void> addBridgeMember(const std::string&, const std::string&, bool) override { return no(); }
  Result<std::vector<platform::NeighbourInfo>> neighbours(uint32_t) override { return no(); }
  Result<void> moveToJail(const std::string&, const JailInfo&) override { return no(); }
  Result<void> reclaimFromJail(const std::string&, const JailInfo&) override { return no(); }
  Result<void> rename(const std::string&, const std::string&) override { return no(); }
  Result<void> setMtu(const std::string&, uint32_t) override { return no(); }
  Result<void> setMac(const std::string&, const MacAddress&) override { return no(); }
  Result<void> setDescription(const std::string&, const std::string&) override { return no(); }
  Result<void> setUp(const std::string&, bool) override { return no(); }
  Result<void> addAddress(const std::string&, const Cidr&) override { return no(); }
  Result<std::vector<platform::RouteInfo>> defaultRoutes() override { return no(); }
  Result<void> setDefaultRoute(const IpAddress&) override { return no(); }
  Result<void> loopbackUp() override { return no(); }
  Result<void> enableIpv6(const std::string&) override { return no(); }
  Result<bool> ipv6Enabled(const std::string&) override { return no(); }

 private:
  static Error no() { return plainError("not used"); }
  std::string ifname_;
};

// Running jails; records on which thread they are looked up and stacks opened.
class Jails final : public platform::Jails {
 public:
  std::map<std::string, JailInfo> running;
  std::atomic<int> opened_on_caller{0}, opened_elsewhere{0};
  std::thread::id caller = std::this_thread::get_id();

  Result<std::vector<JailInfo>> list() override {
    std::vector<JailInfo> out;
    for (const auto& [n, j] : running) out.push_back(j);
    return out;
  }
  std::atomic<int> finds_on_caller{0}, finds_elsewhere{0};
  Result<std::optional<JailInfo>> find(const std::string& name) override {
    (std::this_thread::get_id() == caller ? finds_on_caller : finds_elsewhere)++;
    auto it = running.find(name);
    return it == running.end() ? std::optional<JailInfo>() : std::optional<JailInfo>(it->second);
  }
  Result<std::unique_ptr<platform::NetStack>> openStack(const JailInfo& jail) override {
    (std::this_thread::get_id() == caller ? opened_on_caller : opened_elsewhere)++;
    return std::unique_ptr<platform::NetStack>(new InsideStack("e0b_" + jail.name));
  }
};

// A state store in a temp dir with the jail "db" recorded, plus `others` more.
struct Store {
  std::filesystem::path dir;
  std::optional<StateStore> store;
  explicit Store(size_t others) {
    dir = std::filesystem::temp_directory_path() /
          ("status_service_test." + std::to_string(::getpid()) + "." + std::to_string(others));
    std::filesystem::remove_all(dir);
    auto s = StateStore::open(dir.string());
    EXPECT_TRUE(s) << s.error().message();
    if (!s) return;
    store.emplace(std::move(*s));
    auto lock = store->lock();
    EXPECT_TRUE(lock);
    if (!lock) return;
    State state;
    for (size_t k = 0; k <= others; ++k) {
      JailRecord rec;
      rec.name = k == 0 ? "db" : "j" + std::to_string(k);
      rec.phase = "created";
      rec.interfaces = {record(rec.name, "198.18.0.3/24")};
      rec.interfaces[0].host_name = "e0a_" + rec.name;
      state.jails[rec.name] = rec;
    }
    EXPECT_TRUE(store->save(*lock, state));
  }
  ~Store() { std::filesystem::remove_all(dir); }
};

std::shared_ptr<Config> lanConfig() {
  auto config = std::make_shared<Config>();
  BridgeConfig br;
  br.name = "lan";
  br.interface = "br0";
  config->bridges["lan"] = br;
  return config;
}

const Json* jailIn(const Json& doc, const std::string& name) {
  for (const auto& j : doc["jails"])
    if (j["name"] == name) return &j;
  return nullptr;
}

TEST(StatusService, ManyJailsAreLookedUpAndRenderedOffTheLoopAndNoJailIsEntered) {
  Store st(kInlineJails);  // one more than is done on the loop
  ASSERT_TRUE(st.store);
  auto config = lanConfig();
  auto dispatcher = Dispatcher::create();
  ASSERT_TRUE(dispatcher);
  Dispatcher& loop = **dispatcher;
  HostStack host;
  host.links_ = {{"br0", makeLink(1, "br0")}, {"e0a_db", makeLink(3, "e0a_db", true, 1)}, {"eth0", makeLink(9, "eth0")}};
  Jails loop_jails;                                // made on this (the loop) thread
  auto status_jails = std::make_unique<Jails>();  // the service thread's
  Jails* status_view = status_jails.get();
  status_view->running = {{"db", JailInfo{"db", 12, true}}};
  auto refresher_jails = std::make_unique<Jails>();
  Jails* refresher_view = refresher_jails.get();
  JailFacts facts;
  RateSampler rates;
  JailFactsRefresher refresher(facts, std::move(refresher_jails), 0s);
  StatusService service(loop, *st.store, host, loop_jails, std::move(status_jails), facts, refresher, rates);

  // One request, answered through the loop.
  auto ask = [&]() -> Json {
    std::string line;
    auto dog = loop.onTimer(10s, false, [&] { loop.exit(); });
    service.reply("", config, nullptr, {}, [&](std::string l) {
      line = std::move(l);
      loop.exit();
    });
    EXPECT_TRUE(line.empty()) << "answered on the loop: the service thread should have";
    EXPECT_TRUE(loop.run());
    EXPECT_FALSE(line.empty()) << "no reply within 10 s";
    return Json::parse(line, nullptr, false);
  };
  Json first = ask();
  ASSERT_EQ(first["jails"].size(), kInlineJails + 1) << first.dump();
  const Json* db = jailIn(first, "db");
  ASSERT_TRUE(db);
  EXPECT_EQ((*db)["running"], true);
  EXPECT_TRUE((*db)["inside_age_seconds"].is_null()) << "answered at once, with nothing known yet";
  EXPECT_EQ((*db)["interfaces"][0]["host"]["in_bridge"], true);
  EXPECT_EQ(first["bridges"][0]["addresses"], Json::array({"198.18.0.1/24"}));
  EXPECT_EQ(host.polls, 1) << "one poll of the host's links per request";
  EXPECT_EQ(host.queries, 0) << "no query per link at this many";
  EXPECT_EQ(first.dump().find("eth0"), std::string::npos) << "links vnetd does not manage are not shown";
  EXPECT_EQ(loop_jails.finds_on_caller + loop_jails.finds_elsewhere, 0) << "no per-jail look-up on the loop";
  EXPECT_EQ(status_view->finds_on_caller, 0);
  EXPECT_EQ(status_view->finds_elsewhere, static_cast<int>(kInlineJails + 1));
  // The refresher reads on its own thread; wait for its pass (no sleep: a bounded spin on
  // its own counter, which it bumps when the pass is done).
  for (auto until = Clock::now() + 10s; refresher.passes() == 0 && Clock::now() < until;) std::this_thread::yield();
  ASSERT_EQ(refresher.passes(), 1u);
  EXPECT_EQ(status_view->opened_on_caller + status_view->opened_elsewhere, 0) << "status never opens stacks";
  EXPECT_EQ(refresher_view->opened_on_caller, 0);
  EXPECT_EQ(refresher_view->opened_elsewhere, 1) << "only the running jail";

  Json second = ask();
  db = jailIn(second, "db");
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)["inside_age_seconds"].is_number()) << second.dump();
  EXPECT_EQ((*db)["interfaces"][0]["jail"]["present"], true);
  EXPECT_EQ((*db)["interfaces"][0]["jail"]["addresses"], Json::array({"198.18.0.3/24"}));
  EXPECT_EQ(refresher.passes(), 1u) << "fresh facts are not read again";
}

TEST(StatusService, AFewJailsAreAnsweredOnTheLoopAtOnce) {
  Store st(0);
  ASSERT_TRUE(st.store);
  auto dispatcher = Dispatcher::create();
  ASSERT_TRUE(dispatcher);
  HostStack host;
  host.links_ = {{"br0", makeLink(1, "br0")}};
  Jails loop_jails;
  loop_jails.running = {{"db", JailInfo{"db", 12, true}}};
  auto status_jails = std::make_unique<Jails>();
  Jails* status_view = status_jails.get();
  JailFacts facts;
  RateSampler rates;
  JailFactsRefresher refresher(facts, std::make_unique<Jails>(), 1h);
  StatusService service(**dispatcher, *st.store, host, loop_jails, std::move(status_jails), facts, refresher, rates);
  std::string line;
  service.reply("", lanConfig(), nullptr, {}, [&](std::string l) { line = std::move(l); });
  ASSERT_FALSE(line.empty()) << "not answered at once";
  Json doc = Json::parse(line, nullptr, false);
  ASSERT_TRUE(jailIn(doc, "db"));
  EXPECT_EQ((*jailIn(doc, "db"))["running"], true);
  EXPECT_EQ(loop_jails.finds_on_caller, 1);
  EXPECT_EQ(host.polls, 0) << "a few links are asked for one by one";
  EXPECT_EQ(host.queries, 2) << "br0 and e0a_db";
  EXPECT_EQ(status_view->finds_on_caller + status_view->finds_elsewhere, 0);
  EXPECT_EQ(loop_jails.opened_on_caller + loop_jails.opened_elsewhere, 0) << "status never opens stacks";
}

}  // namespace
}  // namespace vnetd::daemon
