#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vnetd/build_config.h"

namespace vnetd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> errorStrings(const ConfigLoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) out.push_back(e.toString());
  return out;
}

std::vector<std::string> errorsOf(const std::string& text) {
  ConfigLoadResult result = parseConfig(text, "vnetd.toml");
  EXPECT_EQ(result.ok(), result.errors.empty()) << "a result is either a config or errors";
  return errorStrings(result);
}

Config parseOk(const std::string& text) {
  ConfigLoadResult result = parseConfig(text, "vnetd.toml");
  EXPECT_THAT(errorStrings(result), IsEmpty());
  return result.config.value_or(Config{});
}

Cidr cidr(const char* text) { return Cidr::parse(text).value(); }
IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

// Three lines: jail snippets appended to it start on line 4.
constexpr const char* kBridge = R"([bridge.jailnet]
interface = "bridge0"
address = "198.18.0.1/24"
)";

// kBridge, a jail and its limits table: the limit appended to it is on line 7.
constexpr const char* kLimits = R"([bridge.jailnet]
interface = "bridge0"
address = "198.18.0.1/24"
[[jail.web.interface]]
bridge = "jailnet"
[jail.web.limits]
)";

TEST(ConfigErrorTest, ToStringOmitsUnknownPositionsAndEmptyHint) {
  ConfigError e;
  e.file = "f.toml";
  e.message = "m";
  EXPECT_EQ(e.toString(), "f.toml: m");
  e.line = 3;
  EXPECT_EQ(e.toString(), "f.toml:3: m");
  e.column = 7;
  e.hint = "h";
  EXPECT_EQ(e.toString(), "f.toml:3:7: m (h)");
}

TEST(ConfigTest, EmptyConfigIsValidWithAllDefaults) {
  Config c = parseOk("");
  EXPECT_EQ(c.source, "vnetd.toml");
  EXPECT_EQ(c.daemon.control_socket, build::kDefaultControlSocket);
  EXPECT_EQ(c.daemon.state_dir, build::kDefaultStateDir);
  EXPECT_EQ(c.daemon.pidfile, build::kDefaultPidfile);
  EXPECT_EQ(c.daemon.control_group, "");
  EXPECT_EQ(c.daemon.host_id, "");
  EXPECT_EQ(c.daemon.log_level, log::Level::Info);
  EXPECT_EQ(c.daemon.orphan_grace_seconds, 60u);
  EXPECT_EQ(c.daemon.reconcile_interval_seconds, 10u);
  EXPECT_FALSE(c.daemon.manage_forwarding);  // the host's forwarding is the administrator's
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:10090");
  EXPECT_EQ(c.metrics.path, "/metrics");
  EXPECT_TRUE(c.capture.enabled);
  EXPECT_EQ(c.capture.snaplen, 128u);
  EXPECT_EQ(c.capture.sample, 1u);
  EXPECT_EQ(c.capture.buffer_bytes, 4u << 20);
  EXPECT_EQ(c.capture.flow_idle_timeout_seconds, 60u);
  EXPECT_EQ(c.capture.max_flows, 65536u);
  EXPECT_EQ(c.capture.flight_recorder_packets, 1000u);
  EXPECT_TRUE(c.bridges.empty());
  EXPECT_TRUE(c.vlans.empty());
  EXPECT_TRUE(c.jails.empty());
  EXPECT_FALSE(c.jail_defaults.has_value());
  EXPECT_FALSE(c.jailFor("web").has_value());
}

TEST(ConfigTest, SampleParsesWithExpectedValues) {
  ConfigLoadResult result = loadConfigFile(VNETD_SOURCE_DIR "/config/vnetd.toml.sample");
  ASSERT_THAT(errorStrings(result), IsEmpty());
  ASSERT_TRUE(result.ok());
  const Config& c = *result.config;
  EXPECT_EQ(c.source, VNETD_SOURCE_DIR "/config/vnetd.toml.sample");

  // Paths are commented out in the sample: the platform defaults apply.
  EXPECT_EQ(c.daemon.control_socket, build::kDefaultControlSocket);
  EXPECT_EQ(c.daemon.log_level, log::Level::Info);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:10090");
  EXPECT_EQ(c.capture.buffer_bytes, 4u << 20);
  EXPECT_EQ(c.capture.snaplen, 128u);

  ASSERT_EQ(c.vlans.count("vlan100"), 1u);
  EXPECT_EQ(c.vlans.at("vlan100").name, "vlan100");
  EXPECT_EQ(c.vlans.at("vlan100").parent, "em0");
  EXPECT_EQ(c.vlans.at("vlan100").tag, 100);

  ASSERT_EQ(c.bridges.size(), 2u);
  const BridgeConfig& jailnet = c.bridges.at("jailnet");
  EXPECT_EQ(jailnet.name, "jailnet");
  EXPECT_EQ(jailnet.interface, "bridge0");
  EXPECT_EQ(jailnet.address, cidr("198.18.0.1/24"));
  EXPECT_EQ(jailnet.address6, cidr("2001:db8:0:1::1/64"));
  EXPECT_EQ(jailnet.mtu, 1500u);
  EXPECT_EQ(jailnet.nat, "em0");
  EXPECT_FALSE(jailnet.private_members);
  const BridgeConfig& backend = c.bridges.at("backend");
  EXPECT_EQ(backend.interface, "bridge1");
  EXPECT_THAT(backend.uplinks, ElementsAre("vlan:vlan100"));
  EXPECT_TRUE(backend.private_members);
  EXPECT_FALSE(backend.address.has_value());

  ASSERT_EQ(c.jails.size(), 3u);
  const JailConfig& web = c.jails.at("webserver");
  EXPECT_EQ(web.name, "webserver");
  ASSERT_EQ(web.interfaces.size(), 1u);
  const InterfaceConfig& w0 = web.interfaces[0];
  EXPECT_EQ(w0.index, 0u);
  EXPECT_EQ(w0.bridge, "jailnet");
  EXPECT_EQ(w0.address, cidr("198.18.0.10/24"));
  EXPECT_EQ(w0.address6, cidr("2001:db8:0:1::10/64"));
  EXPECT_EQ(w0.gateway, ip("198.18.0.1"));        // from the bridge
  EXPECT_EQ(w0.gateway6, ip("2001:db8:0:1::1"));  // from the bridge
  EXPECT_EQ(w0.mtu, 1500u);                       // from the bridge
  EXPECT_EQ(w0.host_side_name, "e0a_webserver");
  EXPECT_EQ(w0.jail_side_name, "e0b_webserver");
  EXPECT_FALSE(w0.mac.has_value());
  EXPECT_EQ(web.limits.at("memoryuse"), (RctlLimit{"deny", 2ull << 30}));
  EXPECT_EQ(web.limits.at("pcpu"), (RctlLimit{"deny", 50}));

  const JailConfig& db = c.jails.at("db");
  ASSERT_EQ(db.interfaces.size(), 2u);
  EXPECT_EQ(db.interfaces[0].mac, MacAddress::parse("02:00:c6:12:00:14"));
  EXPECT_EQ(db.interfaces[1].index, 1u);
  EXPECT_EQ(db.interfaces[1].bridge, "backend");
  EXPECT_EQ(db.interfaces[1].host_side_name, "e1a_db");
  EXPECT_EQ(db.interfaces[1].jail_side_name, "vnet1");
  EXPECT_FALSE(db.interfaces[1].gateway.has_value());  // the bridge has no address
  EXPECT_FALSE(db.interfaces[1].mtu.has_value());
  EXPECT_EQ(db.limits.at("openfiles"), (RctlLimit{"deny", 65536}));
  // Rates cannot be denied (kern_racct.c: RACCT_DECAYING only): a plain amount throttles.
  EXPECT_EQ(db.limits.at("readbps"), (RctlLimit{"throttle", 100ull << 20}));
  EXPECT_EQ(db.limits.at("writebps"), (RctlLimit{"throttle", 100ull << 20}));

  const InterfaceConfig& cache = c.jails.at("cache").interfaces.at(0);
  EXPECT_TRUE(cache.address_auto);
  EXPECT_FALSE(cache.address.has_value());
  EXPECT_EQ(cache.gateway, ip("198.18.0.1"));
  EXPECT_FALSE(cache.gateway6.has_value());

  // A configured jail comes back as configured.
  auto configured = c.jailFor("db");
  ASSERT_TRUE(configured.has_value());
  EXPECT_EQ(configured->interfaces.size(), 2u);

  // A jail without a table is instantiated from [jail_defaults].
  auto other = c.jailFor("mail-01");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->name, "mail-01");
  ASSERT_EQ(other->interfaces.size(), 1u);
  EXPECT_EQ(other->interfaces[0].host_side_name, interfaceName("mail-01", 0, Side::A));
  EXPECT_EQ(other->interfaces[0].jail_side_name, interfaceName("mail-01", 0, Side::B));
  EXPECT_TRUE(other->interfaces[0].address_auto);
  EXPECT_EQ(other->interfaces[0].gateway, ip("198.18.0.1"));
  EXPECT_EQ(other->interfaces[0].mtu, 1500u);
  EXPECT_EQ(other->limits.at("memoryuse"), (RctlLimit{"deny", 1ull << 30}));
}

TEST(ConfigTest, EveryKeyIsParsed) {
  Config c = parseOk(R"(
[daemon]
control_socket = "/tmp/v.sock"
control_group = "operator"
state_dir = "/tmp/state"
pidfile = "/tmp/v.pid"
log_level = "debug"
host_id = "host-1"
orphan_grace_seconds = 0
reconcile_interval_seconds = 1
manage_forwarding = true
[metrics]
listen = "[::1]:9100"
path = "/m"
[capture]
enabled = false
snaplen = 65535
buffer_size = 65536
flow_idle_timeout = 5
max_flows = 16777216
flight_recorder_packets = 0
sample = 100
[vlan.v7]
parent = "em1"
tag = 4094
[bridge.b]
address = "198.19.0.1/16"
mtu = 9000
uplinks = ["em0", "vlan:v7"]
[[jail.j.interface]]
bridge = "b"
address = "198.19.2.3/16"
gateway = "198.19.0.254"
mtu = 9000
name = "vnet0"
)");
  EXPECT_EQ(c.daemon.control_group, "operator");
  EXPECT_EQ(c.daemon.log_level, log::Level::Debug);
  EXPECT_EQ(c.daemon.host_id, "host-1");
  EXPECT_EQ(c.daemon.orphan_grace_seconds, 0u);
  EXPECT_TRUE(c.daemon.manage_forwarding);
  EXPECT_EQ(c.metrics.listen, "[::1]:9100");
  EXPECT_FALSE(c.capture.enabled);
  EXPECT_EQ(c.capture.buffer_bytes, 65536u);
  EXPECT_EQ(c.capture.max_flows, 16777216u);
  EXPECT_EQ(c.capture.sample, 100u);  // not a power of two: any N is fine
  EXPECT_EQ(c.bridges.at("b").interface, "b");  // defaults to the key
  const InterfaceConfig& i = c.jails.at("j").interfaces.at(0);
  EXPECT_EQ(i.gateway, ip("198.19.0.254"));
  EXPECT_EQ(i.mtu, 9000u);
  EXPECT_EQ(i.jail_side_name, "vnet0");
  EXPECT_EQ(i.host_side_name, "e0a_j");
}

// A plain amount takes the resource's default action: deny where the kernel denies,
// throttle for the I/O rates (which it cannot deny: rctl_rule_add, EOPNOTSUPP).
TEST(ConfigTest, LimitsGetTheResourcesDefaultAction) {
  Config c = parseOk(std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[jail.web.limits]
memoryuse = "2G"
pcpu = 50
readbps = "100M"
writebps = 1048576
readiops = "2k"
writeiops = 300
)");
  const RctlLimits& l = c.jails.at("web").limits;
  EXPECT_EQ(l.at("memoryuse"), (RctlLimit{"deny", 2ull << 30}));
  EXPECT_EQ(l.at("pcpu"), (RctlLimit{"deny", 50}));
  EXPECT_EQ(l.at("readbps"), (RctlLimit{"throttle", 100ull << 20}));
  EXPECT_EQ(l.at("writebps"), (RctlLimit{"throttle", 1048576}));
  EXPECT_EQ(l.at("readiops"), (RctlLimit{"throttle", 2048}));
  EXPECT_EQ(l.at("writeiops"), (RctlLimit{"throttle", 300}));
}

// "<action>=<amount>" names the action, as in an rctl(8) rule; cputime and wallclock
// (neither deniable nor decaying) can only be limited that way.
TEST(ConfigTest, LimitsWithAnExplicitAction) {
  Config c = parseOk(std::string(kBridge) + R"([[jail_defaults.interface]]
bridge = "jailnet"
address = "auto"
[jail_defaults.limits]
cputime = "sigkill=3600"
wallclock = "log=86400"
readbps = "devctl=1G"
memoryuse = "deny=512M"
pcpu = "sigterm=90"
maxproc = "sigusr1=0"
)");
  auto jail = c.jailFor("web");
  ASSERT_TRUE(jail.has_value());
  const RctlLimits& l = jail->limits;
  EXPECT_EQ(l.at("cputime"), (RctlLimit{"sigkill", 3600}));
  EXPECT_EQ(l.at("wallclock"), (RctlLimit{"log", 86400}));
  EXPECT_EQ(l.at("readbps"), (RctlLimit{"devctl", 1ull << 30}));
  EXPECT_EQ(l.at("memoryuse"), (RctlLimit{"deny", 512ull << 20}));
  EXPECT_EQ(l.at("pcpu"), (RctlLimit{"sigterm", 90}));
  EXPECT_EQ(l.at("maxproc"), (RctlLimit{"sigusr1", 0}));
  EXPECT_EQ(l.size(), 6u);
}

TEST(ConfigTest, JailForUsesDefaultsOrNothing) {
  Config with = parseOk(std::string(kBridge) + R"(
[[jail_defaults.interface]]
bridge = "jailnet"
address = "auto"
[[jail_defaults.interface]]
bridge = "jailnet"
)");
  auto jail = with.jailFor("a-very-long-jail-name");
  ASSERT_TRUE(jail.has_value());
  ASSERT_EQ(jail->interfaces.size(), 2u);
  EXPECT_EQ(jail->interfaces[1].index, 1u);
  EXPECT_EQ(jail->interfaces[1].host_side_name, interfaceName("a-very-long-jail-name", 1, Side::A));
  EXPECT_EQ(jail->interfaces[1].host_side_name.size(), 15u);
  EXPECT_FALSE(jail->interfaces[1].gateway.has_value());  // no address on that interface
  EXPECT_FALSE(with.jailFor("bad name").has_value());

  Config without = parseOk(kBridge);
  EXPECT_FALSE(without.jailFor("unknown").has_value());
}

TEST(ConfigTest, LoadConfigFileReportsUnreadableFile) {
  ConfigLoadResult result = loadConfigFile("/nonexistent/vnetd.toml");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(errorStrings(result),
              ElementsAre("/nonexistent/vnetd.toml: cannot read: No such file or directory"));
}

struct BadCase {
  const char* name;
  std::string toml;
  std::string expected;
};

class ConfigBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigBadInputTest, ReportsExactlyOneClearError) {
  EXPECT_THAT(errorsOf(GetParam().toml), ElementsAre(GetParam().expected));
}

// Issue 19: address6 = "slaac" and [bridge.X] router_advertisements.
TEST(ConfigTest, SlaacInterfaceAndAdvertisingBridge) {
  Config c = parseOk(R"(
[bridge.b]
address6 = "2001:db8:180::1/64"
router_advertisements = true
[bridge.quiet]
address6 = "2001:db8:181::1/64"
[[jail.j.interface]]
bridge = "b"
address6 = "slaac"
[[jail.k.interface]]
bridge = "b"
address6 = "2001:db8:180::10/64"
[jail_defaults]
[[jail_defaults.interface]]
bridge = "b"
address6 = "slaac"
)");
  EXPECT_TRUE(c.bridges.at("b").router_advertisements);
  EXPECT_FALSE(c.bridges.at("quiet").router_advertisements);  // off unless asked for
  const InterfaceConfig& j = c.jails.at("j").interfaces.at(0);
  EXPECT_TRUE(j.address6_slaac);
  EXPECT_FALSE(j.address6.has_value());
  EXPECT_FALSE(j.gateway6.has_value());  // not the bridge's: the RAs give the route
  const InterfaceConfig& k = c.jails.at("k").interfaces.at(0);
  EXPECT_FALSE(k.address6_slaac);
  EXPECT_EQ(k.gateway6, ip("2001:db8:180::1"));
  // [jail_defaults] may say it: every jail forms its own address from its own MAC.
  auto other = c.jailFor("other");
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->interfaces.at(0).address6_slaac);
}

const BadCase kBadCases[] = {
    {"TomlSyntax", "[daemon]\nlog_level = \n",
     "vnetd.toml:2:13: Error while parsing key-value pair: expected value, saw '\\n'"},
    {"UnknownKeyWithSuggestion", "[capture]\nsnaplenn = 100\n",
     "vnetd.toml:2:1: unknown key 'snaplenn' in [capture] (did you mean 'snaplen'?)"},
    {"UnknownKeyListsValidKeys", "[metrics]\nport = 1\n",
     "vnetd.toml:2:1: unknown key 'port' in [metrics] (valid keys: listen, path)"},
    {"UnknownKeyInInterface", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
adress = "198.18.0.10/24"
)",
     "vnetd.toml:6:1: unknown key 'adress' in [jail.web] interface 0 (did you mean 'address'?)"},
    {"UnknownTopLevelTable", "[bridges.x]\n",
     "vnetd.toml:1:2: unknown table [bridges] (did you mean [bridge]?)"},
    {"TopLevelKeyBelongsInTable", "log_level = \"debug\"\n",
     "vnetd.toml:1:1: unknown top-level key 'log_level' (it belongs in [daemon])"},
    {"WrongType", "[capture]\nsnaplen = \"big\"\n",
     "vnetd.toml:2:11: expected an integer for [capture] snaplen, got a string"},
    {"SectionNotATable", "capture = 5\n",
     "vnetd.toml:1:11: expected a table for [capture], got an integer"},
    {"OutOfRange", "[capture]\nsnaplen = 20\n",
     "vnetd.toml:2:11: [capture] snaplen 20 is out of range (allowed: 64..65535)"},
    {"SampleZero", "[capture]\nsample = 0\n",
     "vnetd.toml:2:10: [capture] sample 0 is out of range (allowed: 1..65536)"},
    {"SampleTooLarge", "[capture]\nsample = 65537\n",
     "vnetd.toml:2:10: [capture] sample 65537 is out of range (allowed: 1..65536)"},
    {"SampleType", "[capture]\nsample = 1.5\n",
     "vnetd.toml:2:10: expected an integer for [capture] sample, got a floating-point number"},
    {"BufferSizeOutOfRange", "[capture]\nbuffer_size = \"32K\"\n",
     "vnetd.toml:2:15: [capture] buffer_size 32K is out of range (allowed: 64K..1G)"},
    {"BufferSizeSyntax", "[capture]\nbuffer_size = \"4MB\"\n",
     "vnetd.toml:2:15: [capture] buffer_size '4MB' is not a size (use bytes or a number with a K, "
     "M or G suffix, e.g. \"4M\")"},
    {"BadLogLevel", "[daemon]\nlog_level = \"verbose\"\n",
     "vnetd.toml:2:13: [daemon] log_level 'verbose' is not a log level (use error, warning, info "
     "or debug)"},
    {"RelativePath", "[daemon]\nstate_dir = \"var/db/vnetd\"\n",
     std::string("vnetd.toml:2:13: [daemon] state_dir 'var/db/vnetd' is not an absolute path "
                 "(start it with '/', e.g. ") +
         build::kDefaultStateDir + ")"},
    {"ListenWithoutPort", "[metrics]\nlisten = \"127.0.0.1\"\n",
     "vnetd.toml:2:10: [metrics] listen '127.0.0.1' has no port (use host:port, e.g. "
     "127.0.0.1:10090)"},
    {"ListenBadPort", "[metrics]\nlisten = \"127.0.0.1:70000\"\n",
     "vnetd.toml:2:10: [metrics] listen '127.0.0.1:70000' has an invalid port (use a port in "
     "1..65535, or 0 for any free port)"},
    {"ListenV6WithoutBrackets", "[metrics]\nlisten = \"::1:10090\"\n",
     "vnetd.toml:2:10: [metrics] listen '::1:10090' has an IPv6 address without brackets (write "
     "IPv6 as [address]:port, e.g. [::1]:10090)"},
    {"MetricsPath", "[metrics]\npath = \"metrics\"\n",
     "vnetd.toml:2:8: [metrics] path 'metrics' must start with '/' (e.g. /metrics)"},
    {"BadCidr", "[bridge.jailnet]\naddress = \"198.18.0.300/24\"\n",
     "vnetd.toml:2:11: [bridge.jailnet] address '198.18.0.300/24' is not a valid IPv4 CIDR "
     "(expected an IPv4 address with prefix length, e.g. 198.18.0.10/24)"},
    {"MissingPrefixLength", "[bridge.jailnet]\naddress = \"198.18.0.1\"\n",
     "vnetd.toml:2:11: [bridge.jailnet] address '198.18.0.1' has no prefix length (write it as "
     "198.18.0.1/24)"},
    {"V6WhereV4Expected", "[bridge.jailnet]\naddress = \"2001:db8::1/64\"\n",
     "vnetd.toml:2:11: [bridge.jailnet] address '2001:db8::1/64' is an IPv6 address (use "
     "address6 for IPv6)"},
    {"V4WhereV6Expected", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address6 = "198.18.0.10/24"
)",
     "vnetd.toml:6:12: [jail.web] interface 0 address6 '198.18.0.10/24' is an IPv4 address (use "
     "address for IPv4)"},
    {"NetworkAddress", "[bridge.jailnet]\naddress = \"198.18.0.0/24\"\n",
     "vnetd.toml:2:11: [bridge.jailnet] address 198.18.0.0/24 is the network address of its "
     "subnet (use a host address such as 198.18.0.1/24)"},
    {"AddressOutsideBridgeSubnet", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.1.10/24"
)",
     "vnetd.toml:6:11: address 198.18.1.10/24 of jail 'web' interface 0 is outside bridge "
     "'jailnet' subnet 198.18.0.0/24 (use an address in 198.18.0.0/24 or \"auto\")"},
    {"PrefixDiffersFromBridge", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.0.10/16"
)",
     "vnetd.toml:6:11: address 198.18.0.10/16 of jail 'web' interface 0 has prefix length /16 but "
     "bridge 'jailnet' subnet is 198.18.0.0/24 (use 198.18.0.10/24)"},
    {"GatewayOutsideSubnet", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.0.10/24"
gateway = "198.18.1.1"
)",
     "vnetd.toml:7:11: gateway 198.18.1.1 of jail 'web' interface 0 is outside its subnet "
     "198.18.0.0/24 (use an address in 198.18.0.0/24, or remove gateway to use the bridge "
     "address)"},
    {"GatewayWithPrefix", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "auto"
gateway = "198.18.0.1/24"
)",
     "vnetd.toml:7:11: [jail.web] interface 0 gateway '198.18.0.1/24' must be an address without "
     "prefix length (write 198.18.0.1)"},
    {"GatewayIsOwnAddress", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.0.10/24"
gateway = "198.18.0.10"
)",
     "vnetd.toml:7:11: gateway 198.18.0.10 of jail 'web' interface 0 is the interface's own "
     "address (use the router's address, e.g. the bridge address)"},
    {"DuplicateAddressBetweenJails", std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.0.10/24"
[[jail.b.interface]]
bridge = "jailnet"
address = "198.18.0.10/24"
)",
     "vnetd.toml:9:11: address 198.18.0.10/24 of jail 'b' interface 0 is already used by jail "
     "'a' interface 0 (choose another address or \"auto\")"},
    {"AddressIsBridgeGateway", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.0.1/24"
)",
     "vnetd.toml:6:11: address 198.18.0.1/24 of jail 'web' interface 0 is already used by bridge "
     "'jailnet' (choose another address or \"auto\")"},
    {"DuplicateMac", std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
mac = "02:00:00:00:00:01"
[[jail.b.interface]]
bridge = "jailnet"
mac = "02:00:00:00:00:01"
)",
     "vnetd.toml:9:7: mac 02:00:00:00:00:01 of jail 'b' interface 0 is already used by jail 'a' "
     "interface 0 (choose another MAC, or remove the key to get a derived one)"},
    {"InvalidMac", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
mac = "02:00:00:00:00"
)",
     "vnetd.toml:6:7: [jail.web] interface 0 mac '02:00:00:00:00' is not a valid MAC address "
     "(expected xx:xx:xx:xx:xx:xx, e.g. 02:00:c6:12:00:0a)"},
    {"MulticastMac", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
mac = "01:00:5E:00:00:01"
)",
     "vnetd.toml:6:7: [jail.web] interface 0 mac 01:00:5e:00:00:01 is a multicast address (the "
     "first octet must be even, e.g. 02:00:c6:12:00:0a)"},
    {"UndefinedBridgeWithSuggestion", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnt"
)",
     "vnetd.toml:5:10: jail 'web' interface 0 refers to undefined bridge 'jailnt' (did you mean "
     "'jailnet'?)"},
    {"UndefinedBridge", "[[jail.web.interface]]\nbridge = \"lan\"\n",
     "vnetd.toml:2:10: jail 'web' interface 0 refers to undefined bridge 'lan' (define it in a "
     "[bridge.lan] table)"},
    {"MissingBridgeKey", "[[jail.web.interface]]\naddress = \"auto\"\n",
     "vnetd.toml:1:1: [jail.web] interface 0 is missing bridge (add bridge = \"<key of a "
     "[bridge.*] table>\")"},
    {"UndefinedVlanUplink", "[bridge.b0]\nuplinks = [\"em0\", \"vlan:v200\"]\n",
     "vnetd.toml:2:19: uplink 'vlan:v200' of bridge 'b0' refers to undefined vlan 'v200' (define "
     "it in a [vlan.v200] table)"},
    {"VlanTagOutOfRange", "[vlan.vlan5]\nparent = \"em0\"\ntag = 5000\n",
     "vnetd.toml:3:7: [vlan.vlan5] tag 5000 is out of range (allowed: 1..4094)"},
    {"VlanMissingParent", "[vlan.vlan5]\ntag = 5\n",
     "vnetd.toml:1:1: [vlan.vlan5] is missing parent (add parent = \"<interface>\", e.g. \"em0\")"},
    {"InvalidJailName", std::string(kBridge) + R"([[jail."a;rm".interface]]
bridge = "jailnet"
)",
     "vnetd.toml:4:8: invalid [jail] key 'a;rm': jail name contains ';' (allowed: A-Z a-z 0-9 _ "
     ". -)"},
    {"InvalidJailSideName", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
name = "vnet0 "
)",
     "vnetd.toml:6:8: [jail.web] interface 0 name 'vnet0 ': interface name contains ' ' "
     "(allowed: A-Z a-z 0-9 _ . -)"},
    {"InvalidBridgeInterface", "[bridge.jailnet]\ninterface = \"bridge0-for-all-jails\"\n",
     "vnetd.toml:2:13: [bridge.jailnet] interface 'bridge0-for-all-jails': interface name is 21 "
     "characters long (at most 15)"},
    {"InvalidNatInterface", "[bridge.jailnet]\naddress = \"198.18.0.1/24\"\nnat = \"-em0\"\n",
     "vnetd.toml:3:7: [bridge.jailnet] nat '-em0': interface name must not start with '-'"},
    {"InvalidUplink", "[bridge.jailnet]\nuplinks = [\"em0;\"]\n",
     "vnetd.toml:2:12: [bridge.jailnet] uplinks[0] 'em0;': interface name contains ';' (allowed: "
     "A-Z a-z 0-9 _ . -) (use a host interface name or \"vlan:<key of a [vlan.*] table>\")"},
    {"JailSideNameCollidesWithOtherJail", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[[jail.x.interface]]
bridge = "jailnet"
name = "e0b_web"
)",
     "vnetd.toml:8:8: interface name 'e0b_web' for the jail side of jail 'x' interface 0 is "
     "already used by the jail side of jail 'web' interface 0 (choose another name)"},
    {"JailSideNameCollidesWithBridge", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
name = "bridge0"
)",
     "vnetd.toml:6:8: interface name 'bridge0' for the jail side of jail 'web' interface 0 is "
     "already used by bridge 'jailnet' (choose another name)"},
    {"JailSideNamesCollideAcrossJails", std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
name = "vnet0"
[[jail.b.interface]]
bridge = "jailnet"
name = "vnet0"
)",
     "vnetd.toml:9:8: interface name 'vnet0' for the jail side of jail 'b' interface 0 is already "
     "used by the jail side of jail 'a' interface 0 (choose another name)"},
    {"VlanCollidesWithGeneratedName", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[vlan.e0a_web]
parent = "em0"
tag = 10
)",
     "vnetd.toml:6:7: interface name 'e0a_web' for vlan 'e0a_web' is already used by the host "
     "side of jail 'web' interface 0 (rename the [vlan.e0a_web] table)"},
    {"TwoBridgesOneInterface", std::string(kBridge) + R"([bridge.other]
interface = "bridge0"
)",
     "vnetd.toml:5:13: interface name 'bridge0' for bridge 'other' is already used by bridge "
     "'jailnet' (give each bridge its own interface name)"},
    {"UplinkOnTwoBridges", "[bridge.a]\nuplinks = [\"em0\"]\n[bridge.b]\nuplinks = [\"em0\"]\n",
     "vnetd.toml:4:12: interface name 'em0' for an uplink of bridge 'b' is already used by an "
     "uplink of bridge 'a' (an interface can be a member of one bridge only)"},
    {"OverlappingBridgeSubnets", std::string(kBridge) + R"([bridge.wide]
address = "198.18.128.1/16"
)",
     "vnetd.toml:5:11: subnet 198.18.0.0/16 of bridge 'wide' overlaps subnet 198.18.0.0/24 of "
     "bridge 'jailnet' (give each bridge its own subnet)"},
    {"MtuDiffersFromBridge", R"([bridge.jailnet]
address = "198.18.0.1/24"
mtu = 9000
[[jail.web.interface]]
bridge = "jailnet"
mtu = 1500
)",
     "vnetd.toml:6:7: mtu 1500 of jail 'web' interface 0 differs from bridge 'jailnet' mtu 9000 "
     "(remove the key: bridge members always use the bridge mtu)"},
    {"MtuWithoutBridgeMtu", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
mtu = 9000
)",
     "vnetd.toml:6:7: mtu 9000 of jail 'web' interface 0 is set but bridge 'jailnet' has no mtu "
     "(remove the key and set mtu in [bridge.jailnet] instead)"},
    {"AutoWithoutBridgeAddress",
     "[bridge.l2]\n[[jail.web.interface]]\nbridge = \"l2\"\naddress = \"auto\"\n",
     "vnetd.toml:4:11: address \"auto\" of jail 'web' interface 0 needs an IPv4 address on bridge "
     "'l2' (set address in [bridge.l2], or give a static address)"},
    {"NatWithoutAddress", "[bridge.jailnet]\nnat = \"em0\"\n",
     "vnetd.toml:2:7: nat on bridge 'jailnet' needs an IPv4 address on the bridge (set address "
     "in [bridge.jailnet], e.g. \"198.18.0.1/24\")"},
    {"JailWithoutInterfaces", "[jail.web.limits]\npcpu = 10\n",
     "vnetd.toml:1:1: jail 'web' has no interfaces (add a [[jail.web.interface]] table with "
     "bridge = \"<bridge>\")"},
    {"InterfaceAsSingleTable", std::string(kBridge) + R"([jail.web.interface]
bridge = "jailnet"
)",
     "vnetd.toml:4:1: expected an array of tables for [jail.web] interface, got a table (write "
     "[[jail.web.interface]] with double brackets)"},
    {"TooManyInterfaces",
     std::string(kBridge) + "[jail.web]\ninterface = [" +
         [] {
           std::string list;
           for (int i = 0; i < 17; ++i) list += "{bridge=\"jailnet\"},";
           return list;
         }() +
         "]\n",
     "vnetd.toml:5:318: jail 'web' has 17 interfaces (at most 16)"},
    {"DefaultsStaticAddress", std::string(kBridge) + R"([[jail_defaults.interface]]
bridge = "jailnet"
address = "198.18.0.10/24"
)",
     "vnetd.toml:6:11: [jail_defaults] interface 0 address would give every jail the same "
     "address (use address = \"auto\")"},
    {"DefaultsStaticMac", std::string(kBridge) + R"([[jail_defaults.interface]]
bridge = "jailnet"
mac = "02:00:00:00:00:01"
)",
     "vnetd.toml:6:7: [jail_defaults] interface 0 mac would give every jail the same MAC (remove "
     "it: every jail gets its own derived MAC)"},
    {"DefaultsStaticName", std::string(kBridge) + R"([[jail_defaults.interface]]
bridge = "jailnet"
name = "vnet0"
)",
     "vnetd.toml:6:8: [jail_defaults] interface 0 name would give every jail the same interface "
     "name (remove it: every jail gets its own generated name)"},
    {"UnknownRctlResource", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[jail.web.limits]
memoryusage = "2G"
)",
     "vnetd.toml:7:1: unknown rctl resource 'memoryusage' in [jail.web.limits] (did you mean "
     "'memoryuse'?)"},
    {"BadRctlAmount", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[jail.web.limits]
memoryuse = "2GB"
)",
     "vnetd.toml:7:13: [jail.web.limits] memoryuse '2GB' is not a valid amount (use a "
     "non-negative number with an optional K, M, G or T suffix, e.g. \"2G\")"},
    {"NegativeRctlAmount", std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
[jail.web.limits]
pcpu = -5
)",
     "vnetd.toml:7:8: [jail.web.limits] pcpu '-5' is not a valid amount (use a non-negative "
     "number with an optional K, M, G or T suffix, e.g. \"2G\")"},
    // Rates are RACCT_DECAYING only (kern_racct.c): rctl_rule_add refuses deny on them.
    {"DenyOnRate", std::string(kLimits) + "readbps = \"deny=100M\"\n",
     "vnetd.toml:7:11: [jail.web.limits] readbps 'deny=100M': rctl cannot deny readbps "
     "(use throttle, e.g. readbps = \"throttle=100M\")"},
    {"DenyOnIops", std::string(kLimits) + "writeiops = \"deny=500\"\n",
     "vnetd.toml:7:13: [jail.web.limits] writeiops 'deny=500': rctl cannot deny writeiops "
     "(use throttle, e.g. writeiops = \"throttle=500\")"},
    // cputime and wallclock: RACCT_IN_MILLIONS only, neither deny nor throttle.
    {"CputimeWithoutAction", std::string(kLimits) + "cputime = 3600\n",
     "vnetd.toml:7:11: [jail.web.limits] cputime '3600' needs an action: rctl can neither deny "
     "nor throttle cputime (write cputime = \"sigkill=3600\", or log=, devctl= or another "
     "signal)"},
    {"WallclockWithoutAction", std::string(kLimits) + "wallclock = \"1k\"\n",
     "vnetd.toml:7:13: [jail.web.limits] wallclock '1k' needs an action: rctl can neither deny "
     "nor throttle wallclock (write wallclock = \"sigkill=1k\", or log=, devctl= or another "
     "signal)"},
    {"CputimeDeny", std::string(kLimits) + "cputime = \"deny=60\"\n",
     "vnetd.toml:7:11: [jail.web.limits] cputime 'deny=60': rctl cannot deny cputime "
     "(use log, devctl or a signal, e.g. cputime = \"sigkill=60\")"},
    {"WallclockThrottle", std::string(kLimits) + "wallclock = \"throttle=60\"\n",
     "vnetd.toml:7:13: [jail.web.limits] wallclock 'throttle=60': rctl cannot throttle wallclock "
     "(use log, devctl or a signal, e.g. wallclock = \"sigkill=60\")"},
    // throttle is for decaying resources only, and never pcpu (rctl_rule_add).
    {"ThrottleOnMemory", std::string(kLimits) + "memoryuse = \"throttle=1G\"\n",
     "vnetd.toml:7:13: [jail.web.limits] memoryuse 'throttle=1G': rctl cannot throttle memoryuse "
     "(use deny, e.g. memoryuse = \"deny=1G\")"},
    {"ThrottleOnPcpu", std::string(kLimits) + "pcpu = \"throttle=50\"\n",
     "vnetd.toml:7:8: [jail.web.limits] pcpu 'throttle=50': rctl cannot throttle pcpu "
     "(use deny, e.g. pcpu = \"deny=50\")"},
    {"MisspeltAction", std::string(kLimits) + "readbps = \"trottle=1M\"\n",
     "vnetd.toml:7:11: [jail.web.limits] readbps 'trottle=1M' has unknown rctl action 'trottle' "
     "(did you mean 'throttle'?)"},
    {"UnknownAction", std::string(kLimits) + "readbps = \"limit=1M\"\n",
     "vnetd.toml:7:11: [jail.web.limits] readbps 'limit=1M' has unknown rctl action 'limit' (use "
     "throttle, e.g. readbps = \"throttle=1M\")"},
    {"EmptyAction", std::string(kLimits) + "maxproc = \"=100\"\n",
     "vnetd.toml:7:11: [jail.web.limits] maxproc '=100' has unknown rctl action '' (use deny, "
     "e.g. maxproc = \"deny=100\")"},
    {"BadAmountAfterAction", std::string(kLimits) + "cputime = \"sigkill=1h\"\n",
     "vnetd.toml:7:11: [jail.web.limits] cputime 'sigkill=1h' is not a valid amount (write "
     "sigkill=<non-negative number with an optional K, M, G or T suffix>)"},
    // rctl_string_to_rule: ERANGE above INT64_MAX, or INT64_MAX / 10^6 for cputime,
    // wallclock and pcpu (kept in millionths).
    {"CputimeAboveKernelRange", std::string(kLimits) + "cputime = \"sigkill=9223372036855\"\n",
     "vnetd.toml:7:11: [jail.web.limits] cputime 'sigkill=9223372036855' is more than rctl "
     "accepts (at most 9223372036854 seconds of CPU time)"},
    {"MemoryAboveKernelRange", std::string(kLimits) + "memoryuse = \"8388608T\"\n",
     "vnetd.toml:7:13: [jail.web.limits] memoryuse '8388608T' is more than rctl accepts (at most "
     "9223372036854775807 bytes of resident memory)"},
    {"UnknownTableListsValidTables", "[foo]\n",
     "vnetd.toml:1:2: unknown table [foo] (valid tables: daemon, metrics, capture, bridge, vlan, "
     "jail, jail_defaults)"},
    {"VlanMissingTag", "[vlan.vlan5]\nparent = \"em0\"\n",
     "vnetd.toml:1:1: [vlan.vlan5] is missing tag (add tag = <1..4094>)"},
    {"VlanDuplicateParentTag",
     "[vlan.a]\nparent = \"em0\"\ntag = 7\n[vlan.b]\nparent = \"em0\"\ntag = 7\n",
     "vnetd.toml:6:7: vlan 'b' has the same parent em0 and tag 7 as vlan 'a' (a parent can carry "
     "each tag once)"},
    {"UplinkNamesVlanWithoutPrefix",
     "[vlan.v100]\nparent = \"em0\"\ntag = 100\n[bridge.b]\nuplinks = [\"v100\"]\n",
     "vnetd.toml:5:12: interface name 'v100' for an uplink of bridge 'b' is already used by vlan "
     "'v100' (write \"vlan:v100\" to use the vlan)"},
    {"VlanOnTwoBridges",
     "[vlan.v100]\nparent = \"em0\"\ntag = 100\n[bridge.a]\nuplinks = "
     "[\"vlan:v100\"]\n[bridge.b]\nuplinks = [\"vlan:v100\"]\n",
     "vnetd.toml:7:12: vlan 'v100' is already an uplink of bridge 'a' (an interface can be a "
     "member of one bridge only)"},
    {"GatewayWithoutAddress",
     std::string(kBridge) +
         "[[jail.web.interface]]\nbridge = \"jailnet\"\ngateway = \"198.18.0.1\"\n",
     "vnetd.toml:6:11: gateway 198.18.0.1 of jail 'web' interface 0 needs an address on the same "
     "interface (set address, or remove gateway)"},
    {"Address6OutsideSubnet",
     "[bridge.b]\naddress6 = \"2001:db8:0:1::1/64\"\n[[jail.web.interface]]\nbridge = "
     "\"b\"\naddress6 = \"2001:db8:0:2::1/64\"\n",
     "vnetd.toml:5:12: address6 2001:db8:0:2::1/64 of jail 'web' interface 0 is outside bridge 'b' "
     "subnet 2001:db8:0:1::/64 (use an address in 2001:db8:0:1::/64)"},
    {"DefaultsStaticAddress6",
     std::string(kBridge) +
         "[[jail_defaults.interface]]\nbridge = \"jailnet\"\naddress6 = \"2001:db8::5/64\"\n",
     "vnetd.toml:6:12: [jail_defaults] interface 0 address6 would give every jail the same address "
     "(set address6 in each [jail.<name>] instead)"},
    {"DefaultsWithoutInterfaces", "[jail_defaults]\n",
     "vnetd.toml:1:1: [jail_defaults] has no interfaces (add a [[jail_defaults.interface]] table "
     "with bridge = \"<bridge>\")"},
    {"DefaultsUndefinedBridge", "[[jail_defaults.interface]]\nbridge = \"x\"\n",
     "vnetd.toml:2:10: [jail_defaults] interface 0 refers to undefined bridge 'x' (define it in a "
     "[bridge.x] table)"},
    {"ControlSocketTooLong", "[daemon]\ncontrol_socket = \"/" + std::string(110, 's') + "\"\n",
     "vnetd.toml:2:18: [daemon] control_socket is 111 characters long (a unix socket path has at "
     "most 103)"},
    {"BadGroupName", "[daemon]\ncontrol_group = \"wheel staff\"\n",
     "vnetd.toml:2:17: [daemon] control_group 'wheel staff' contains characters other than A-Z "
     "a-z 0-9 _ . - (use a group name from /etc/group, e.g. wheel)"},
    {"BridgeKeyNotInterfaceName", "[bridge.\"my bridge\"]\n",
     "vnetd.toml:1:9: bridge key 'my bridge' is not a valid interface name: interface name "
     "contains ' ' (allowed: A-Z a-z 0-9 _ . -) (set interface = \"<kernel name>\" in [bridge.\"my "
     "bridge\"], e.g. \"bridge0\")"},
    {"VlanKeyNotInterfaceName", "[vlan.\"v 1\"]\nparent = \"em0\"\ntag = 1\n",
     "vnetd.toml:1:7: vlan key 'v 1' is not a valid interface name: interface name contains ' ' "
     "(allowed: A-Z a-z 0-9 _ . -) (the key is the kernel name of the vlan, e.g. [vlan.vlan100])"},
    {"InterfaceElementNotTable", "[jail.web]\ninterface = [\"x\"]\n",
     "vnetd.toml:2:14: expected a table for [jail.web] interface 0, got a string"},
    {"LimitsNotTable",
     std::string(kBridge) +
         "[[jail.web.interface]]\nbridge = \"jailnet\"\n[jail.web]\nlimits = 5\n",
     "vnetd.toml:7:10: expected a table for [jail.web.limits], got an integer"},
    {"JailNotTable", "[jail]\nweb = 1\n",
     "vnetd.toml:2:7: expected a table for [jail.web], got an integer"},
    {"FloatForInteger", "[bridge.b]\nmtu = 1500.0\n",
     "vnetd.toml:2:7: expected an integer for [bridge.b] mtu, got a floating-point number"},
    {"ZeroPrefixLength", "[bridge.b]\naddress = \"198.18.0.1/0\"\n",
     "vnetd.toml:2:11: [bridge.b] address 198.18.0.1/0 has prefix length /0, which covers every "
     "address (use the subnet's prefix length, e.g. 198.18.0.10/24)"},
    {"BroadcastAddress", "[bridge.b]\naddress = \"198.18.0.255/24\"\n",
     "vnetd.toml:2:11: [bridge.b] address 198.18.0.255/24 is the broadcast address of its subnet "
     "(use a host address such as 198.18.0.254/24)"},
    {"UplinksNotArray", "[bridge.b]\nuplinks = \"em0\"\n",
     "vnetd.toml:2:11: expected an array of strings for [bridge.b] uplinks, got a string (e.g. "
     "uplinks = [\"em0\"])"},
    {"ListenBadHost", "[metrics]\nlisten = \"local_host:80\"\n",
     "vnetd.toml:2:10: [metrics] listen 'local_host:80' has an invalid host (use an IPv4 address "
     "or a host name, e.g. 127.0.0.1)"},
    {"AutoAddress6", "[bridge.b]\n[[jail.web.interface]]\nbridge = \"b\"\naddress6 = \"auto\"\n",
     "vnetd.toml:4:12: [jail.web] interface 0 address6 'auto' is not a valid IPv6 CIDR (\"auto\" "
     "is only supported for the IPv4 address; address6 = \"slaac\" lets the jail configure IPv6 "
     "from router advertisements)"},
    {"SlaacWithGateway6",
     "[bridge.b]\naddress6 = \"2001:db8:180::1/64\"\n[[jail.web.interface]]\nbridge = \"b\"\n"
     "address6 = \"slaac\"\ngateway6 = \"2001:db8:180::1\"\n",
     "vnetd.toml:6:12: gateway6 of jail 'web' interface 0 cannot be combined with address6 = "
     "\"slaac\" (remove gateway6: with SLAAC the default route is learned from router "
     "advertisements)"},
    {"SlaacOnIpv4", "[bridge.b]\n[[jail.web.interface]]\nbridge = \"b\"\naddress = \"slaac\"\n",
     "vnetd.toml:4:11: [jail.web] interface 0 address 'slaac' is not a valid IPv4 CIDR (\"slaac\" "
     "is only supported for a jail interface's address6)"},
    {"SlaacOnBridge", "[bridge.b]\naddress6 = \"slaac\"\n",
     "vnetd.toml:2:12: [bridge.b] address6 'slaac' is not a valid IPv6 CIDR (\"slaac\" is only "
     "supported for a jail interface's address6)"},
    {"RouterAdvertisementsWithoutAddress6", "[bridge.b]\nrouter_advertisements = true\n",
     "vnetd.toml:2:25: router_advertisements on bridge 'b' needs an IPv6 address6 on the bridge "
     "(set address6 in [bridge.b], e.g. \"2001:db8:180::1/64\")"},
    {"RouterAdvertisementsNot64",
     "[bridge.b]\naddress6 = \"2001:db8:180::1/56\"\nrouter_advertisements = true\n",
     "vnetd.toml:3:25: router_advertisements on bridge 'b' needs a /64 address6, but it is "
     "2001:db8:180::1/56 (SLAAC forms addresses only in a /64: use 2001:db8:180::1/64)"},
    {"RouterAdvertisementsType", "[bridge.b]\nrouter_advertisements = \"yes\"\n",
     "vnetd.toml:2:25: expected a boolean for [bridge.b] router_advertisements, got a string"},
    {"NegativeGrace", "[daemon]\norphan_grace_seconds = -1\n",
     "vnetd.toml:2:24: [daemon] orphan_grace_seconds -1 is out of range (allowed: 0..4294967295)"},
    {"BoolType", "[capture]\nenabled = \"yes\"\n",
     "vnetd.toml:2:11: expected a boolean for [capture] enabled, got a string"},
    {"ManageForwardingType", "[daemon]\nmanage_forwarding = 1\n",
     "vnetd.toml:2:21: expected a boolean for [daemon] manage_forwarding, got an integer"},
    {"ControlCharacterInString", "[daemon]\nhost_id = \"a\\u0007b\"\n",
     "vnetd.toml:2:11: [daemon] host_id contains control character \\x07 (remove it)"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigBadInputTest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigTest, ReportsEveryErrorInFileOrder) {
  EXPECT_THAT(
      errorsOf(R"([capture]
snaplen = "big"
max_flow = 10
[bridge.jailnet]
address = "198.18.0.1"
[[jail.web.interface]]
bridge = "nope"
[[jail.db.interface]]
bridge = "jailnet"
address = "auto"
mtu = 1
)"),
      ElementsAre("vnetd.toml:2:11: expected an integer for [capture] snaplen, got a string",
                  "vnetd.toml:3:1: unknown key 'max_flow' in [capture] (did you mean "
                  "'max_flows'?)",
                  "vnetd.toml:5:11: [bridge.jailnet] address '198.18.0.1' has no prefix length "
                  "(write it as 198.18.0.1/24)",
                  "vnetd.toml:7:10: jail 'web' interface 0 refers to undefined bridge 'nope' "
                  "(defined bridges: jailnet)",
                  "vnetd.toml:11:7: [jail.db] interface 0 mtu 1 is out of range (allowed: "
                  "576..65535)"));
}

TEST(ConfigTest, MessagesStayOnOneLine) {
  // A key with a newline and a very long key: escaped and cut, never a second line.
  auto errors = errorsOf("[capture]\n\"a\\nb" + std::string(200, 'x') + "\" = 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].find('\n'), std::string::npos);
  EXPECT_LT(errors[0].size(), 300u);
  EXPECT_NE(errors[0].find("'a\\x0ab"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace vnetd

// The digest identifies the text (doctor compares the daemon's with the file's): the
// same bytes give the same digest, one changed byte another.
TEST(ConfigDigest, FollowsTheTextByteForByte) {
  using vnetd::configDigest;
  using vnetd::parseConfig;
  const std::string a = "[daemon]\nlog_level = \"info\"\n";
  const std::string b = "[daemon]\nlog_level = \"info\" \n";
  auto ra = parseConfig(a, "a.toml");
  auto rb = parseConfig(b, "b.toml");
  ASSERT_TRUE(ra.ok());
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(ra.config->digest, configDigest(a));
  EXPECT_EQ(ra.config->digest.size(), 16u);
  EXPECT_NE(ra.config->digest, rb.config->digest);
  EXPECT_EQ(parseConfig(a, "other-name.toml").config->digest, ra.config->digest);
}
