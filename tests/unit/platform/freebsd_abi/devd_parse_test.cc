// devd(8) records as the kernel formats them (KERNEL-API.md §6) and as they must not be.
#include "platform/freebsd/devd_parse.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace vnetd::platform::fbsd {
namespace {

using Type = InterfaceEvent::Type;
using Fields = std::map<std::string, std::string>;
using namespace std::string_literals;

std::optional<InterfaceEvent> ifnetEvent(std::string_view record) {
  auto parsed = parseDevdRecord(record);
  if (!parsed) return std::nullopt;
  return devdInterfaceEvent(*parsed);
}

TEST(DevdParse, NotifyRecordFields) {
  auto e = parseDevdRecord("!system=IFNET subsystem=epair0a type=ATTACH\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, '!');
  EXPECT_EQ(e->fields, (Fields{{"system", "IFNET"}, {"subsystem", "epair0a"}, {"type", "ATTACH"}}));
  // The trailing newline is optional (SOCK_SEQPACKET records may come without).
  auto bare = parseDevdRecord("!system=IFNET subsystem=epair0a type=ATTACH");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->fields, e->fields);
  // Extra data after type, and an address with a zone.
  auto addr =
      parseDevdRecord("!system=IFNET subsystem=e0a_web type=ADDR_ADD address=fe80::1%e0a_web\n");
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->fields.at("address"), "fe80::1%e0a_web");
}

TEST(DevdParse, QuotedValues) {
  auto e = parseDevdRecord(
      "!system=USB subsystem=DEVICE type=ATTACH ugen=ugen0.2 product=\"USB Mass Storage\" "
      "sernum=\"\" "
      "release=0x0100 mode=host\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.at("product"), "USB Mass Storage");
  EXPECT_EQ(e->fields.at("sernum"), "");
  EXPECT_EQ(e->fields.at("mode"), "host");
  EXPECT_EQ(e->fields.size(), 8u);
  // '=' and bytes >= 0x80 are fine inside quotes; repeated spaces between pairs too.
  auto f = parseDevdRecord("!system=X  subsystem=\"a=b \xc3\xa9\"   type=Y ");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fields.at("subsystem"), "a=b \xc3\xa9");
  // An empty unquoted value, and a repeated key (the last one wins).
  auto g = parseDevdRecord("!system=X type= type=Z");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->fields, (Fields{{"system", "X"}, {"type", "Z"}}));
}

TEST(DevdParse, DeviceRecords) {
  auto attach = parseDevdRecord("+uart0 at port=0x3f8 irq=4 _HID=PNP0501 _UID=0 on acpi0\n");
  ASSERT_TRUE(attach);
  EXPECT_EQ(attach->kind, '+');
  EXPECT_EQ(attach->fields, (Fields{{"device-name", "uart0"},
                                    {"port", "0x3f8"},
                                    {"irq", "4"},
                                    {"_HID", "PNP0501"},
                                    {"_UID", "0"},
                                    {"bus", "acpi0"}}));
  auto detach = parseDevdRecord(
      "-umass0 at bus=0 hubaddr=1 port=2 devaddr=3 interface=0 ugen=ugen0.3 on uhub0\n");
  ASSERT_TRUE(detach);
  EXPECT_EQ(detach->kind, '-');
  EXPECT_EQ(detach->fields.at("device-name"), "umass0");
  EXPECT_EQ(detach->fields.at("bus"), "uhub0");
  // No location, no pnp info: "at  on" with two spaces.
  auto empty = parseDevdRecord("+pci0 at  on pcib0\n");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->fields, (Fields{{"device-name", "pci0"}, {"bus", "pcib0"}}));
  // Nomatch records name no device.
  auto nomatch = parseDevdRecord(
      "? at slot=4 function=0 dbsf=pci0:0:4:0 vendor=0x8086 device=0x100e on pci0\n");
  ASSERT_TRUE(nomatch);
  EXPECT_EQ(nomatch->kind, '?');
  EXPECT_EQ(nomatch->fields.count("device-name"), 0u);
  EXPECT_EQ(nomatch->fields.at("vendor"), "0x8086");
  EXPECT_EQ(nomatch->fields.at("bus"), "pci0");
  // None of these are interface events.
  EXPECT_FALSE(devdInterfaceEvent(*attach));
  EXPECT_FALSE(devdInterfaceEvent(*nomatch));
}

TEST(DevdParse, Garbage) {
  const std::string_view bad[] = {
      "",
      "\n",
      "!",
      "!\n",
      "-  \n",
      "system=IFNET subsystem=epair0a type=ATTACH",        // no prefix
      "#system=IFNET",                                     // unknown prefix
      "!system=IFNET subsystem=epair0a ATTACH",            // a bare word in a notify record
      "!system=IFNET subsystem=\"epair0a type=ATTACH",     // unterminated quote
      "!system=IFNET subsystem=\"epair0a\"x type=ATTACH",  // text glued to a closing quote
      "!system=IFNET subsystem=epa\"ir0a type=ATTACH",     // a stray quote
      "!system=IFNET =epair0a",                            // empty key
      "!sys tem=IFNET",                                    // "sys" is a bare word
      "!sys\"tem=IFNET",                                   // quote in a key
      "!sy$tem=IFNET",                                     // key outside [A-Za-z0-9_.-]
      "!system=IFNET\tsubsystem=epair0a",                  // tab: not a separator devd uses
      "!system=IFNET subsystem=epair0a type=ATTACH\n\n",   // only one newline is a terminator
      "!system=IFNET subsystem=epair0a\ntype=ATTACH",      // embedded newline
      "!system=IFNET subsystem=epair0a type=ATTACH\r\n",   // CR
      "+uart0 at port=0x3f8 on",                           // "on" without a bus
      "+uart0 at port=0x3f8 on bus=x",                     // the bus is a word, not a pair
      "+uart0 at port=0x3f8 stray on acpi0",               // an unknown bare word
      "? uart0 at port=0x3f8 on acpi0",                    // nomatch records have no device
      "\xff\xfe",
  };
  for (auto record : bad) EXPECT_FALSE(parseDevdRecord(record)) << "accepted: " << record;
}

TEST(DevdParse, NulBytesAreRejected) {
  EXPECT_FALSE(parseDevdRecord("!system=IFNET subsystem=epair0a type=ATTACH\0"s));
  EXPECT_FALSE(parseDevdRecord("!system=IFNET subsystem=ep\0air0a type=ATTACH"s));
  EXPECT_FALSE(parseDevdRecord("\0!system=IFNET"s));
  EXPECT_FALSE(parseDevdRecord("!system=IFNET subsystem=\"a\0b\""s));
}

TEST(DevdParse, KernelApiExamples) {
  auto attach = ifnetEvent("!system=IFNET subsystem=epair0a type=ATTACH\n");
  ASSERT_TRUE(attach);
  EXPECT_EQ(attach->type, Type::Arrived);
  EXPECT_STREQ(attach->source, "devd");
  EXPECT_EQ(attach->index, 0u);
  EXPECT_EQ(attach->name, "epair0a");
  EXPECT_FALSE(attach->address);

  // Parsed, but not an interface event vnetd consumes.
  auto ether = parseDevdRecord("!system=ETHERNET subsystem=epair0a type=IFATTACH\n");
  ASSERT_TRUE(ether);
  EXPECT_FALSE(devdInterfaceEvent(*ether));

  auto up = ifnetEvent("!system=IFNET subsystem=epair0a type=LINK_UP\n");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->type, Type::LinkUp);
  EXPECT_EQ(up->name, "epair0a");

  auto detach = ifnetEvent("!system=IFNET subsystem=e0b_web type=DETACH\n");
  ASSERT_TRUE(detach);
  EXPECT_EQ(detach->type, Type::Departed);
  EXPECT_EQ(detach->name, "e0b_web");
}

TEST(DevdParse, MoreInterfaceEvents) {
  auto down = ifnetEvent("!system=IFNET subsystem=bridge0 type=LINK_DOWN");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->type, Type::LinkDown);
  // Quoted values are values like any other.
  auto quoted = ifnetEvent("!system=IFNET subsystem=\"e0a_web\" type=\"LINK_UP\"");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->type, Type::LinkUp);
}

// The kernel limits ATTACH, DETACH, LINK_UP and LINK_DOWN to the host's vnet
// (IS_DEFAULT_VNET in sys/net/if.c if_attach_internal, if_detach_internal,
// do_link_state_change), but sends RENAME (if_rename) and ADDR_ADD/ADDR_DEL (sys/net/route.c
// rt_addrmsg) for every vnet: an address set or an interface renamed inside a jail reaches
// the host's devd. Those records carry no vnet, so they cannot be told from the host's own
// and are not translated; renames and addresses come from the host's routing socket, which
// only hears its own vnet.
TEST(DevdParse, OnlyHostVnetTypesAreTranslated) {
  const std::pair<std::string_view, Type> host_only[] = {
      {"!system=IFNET subsystem=epair0a type=ATTACH\n", Type::Arrived},
      {"!system=IFNET subsystem=epair0a type=DETACH\n", Type::Departed},
      {"!system=IFNET subsystem=epair0a type=LINK_UP\n", Type::LinkUp},
      {"!system=IFNET subsystem=epair0a type=LINK_DOWN\n", Type::LinkDown},
  };
  for (const auto& [record, type] : host_only) {
    auto e = ifnetEvent(record);
    ASSERT_TRUE(e) << record;
    EXPECT_EQ(e->type, type) << record;
    EXPECT_EQ(e->name, "epair0a");
  }
  // Well-formed records (KERNEL-API.md §6 examples and the kernel's formats), every vnet's.
  const std::string_view any_vnet[] = {
      "!system=IFNET subsystem=epair0a type=RENAME name=e0a_web\n",
      "!system=IFNET subsystem=e0a_web type=ADDR_ADD address=fe80::1%e0a_web\n",
      "!system=IFNET subsystem=e0b_web type=ADDR_DEL address=198.18.0.1\n",
      "!system=IFNET subsystem=e0b_web type=ADDR_ADD address=2001:db8::1",
  };
  for (auto record : any_vnet) {
    auto parsed = parseDevdRecord(record);
    ASSERT_TRUE(parsed) << record;  // still a devd record...
    EXPECT_FALSE(devdInterfaceEvent(*parsed)) << "translated: " << record;  // ...but not ours
  }
}

TEST(DevdParse, NotInterfaceEvents) {
  const std::string_view ignored[] = {
      "!system=DEVFS subsystem=CDEV type=CREATE cdev=pts/3",         // another system
      "!system=ifnet subsystem=epair0a type=ATTACH",                 // systems are case-sensitive
      "!system=IFNET subsystem=epair0a type=MTU_CHANGE",             // an unknown type
      "!system=IFNET subsystem=epair0a",                             // no type
      "!system=IFNET type=ATTACH",                                   // no subsystem
      "!subsystem=epair0a type=ATTACH",                              // no system
      "!system=IFNET subsystem=e0a_abcdefghijkl type=ATTACH",        // name too long (16)
      "!system=IFNET subsystem=-e0a type=ATTACH",                    // option-looking name
      "!system=IFNET subsystem=\"e0a web\" type=ATTACH",             // space in a name
      "!system=IFNET subsystem= type=ATTACH",                        // empty name
      "!system=IFNET subsystem=epair0a type=RENAME",                 // RENAME, even malformed
      "!system=IFNET subsystem=e0a_web type=ADDR_ADD",               // ADDR_*, even malformed
  };
  for (auto record : ignored) {
    auto parsed = parseDevdRecord(record);
    ASSERT_TRUE(parsed) << record;
    EXPECT_FALSE(devdInterfaceEvent(*parsed)) << "translated: " << record;
  }
  // Only notify records ('!') carry IFNET events.
  DevdEvent attach{'+', {{"system", "IFNET"}, {"subsystem", "epair0a"}, {"type", "ATTACH"}}};
  EXPECT_FALSE(devdInterfaceEvent(attach));
}

}  // namespace
}  // namespace vnetd::platform::fbsd
