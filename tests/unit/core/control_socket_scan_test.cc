// The thin hook's control_socket scanner: where it answers, the configuration loader reads
// the same from the same text; where it cannot be sure, it says so.
#include "core/control_socket_scan.h"

#include <gtest/gtest.h>

#include <string>

#include "core/config.h"
#include "vnetd/build_config.h"

namespace vnetd {
namespace {

using Answer = ControlSocketScan::Answer;

// The loader's control_socket for `text` (which it must accept).
std::string loaded(const std::string& text) {
  auto r = parseConfig(text, "test.toml");
  EXPECT_TRUE(r.ok()) << text << "\n" << (r.errors.empty() ? "" : r.errors[0].toString());
  return r.ok() ? r.config->daemon.control_socket : "";
}

void expectAgrees(const std::string& text) {
  SCOPED_TRACE(text);
  auto scan = scanControlSocket(text);
  ASSERT_NE(scan.answer, Answer::Unsure);
  EXPECT_EQ(scan.answer == Answer::Found ? scan.path : std::string(build::kDefaultControlSocket), loaded(text));
}

TEST(ControlSocketScan, FindsTheKeyTheLoaderReads) {
  expectAgrees("[daemon]\ncontrol_socket = \"/run/other.sock\"\n");
  expectAgrees("# comment\n\n[daemon]   # c\n  control_socket='/x/y.sock'  # trailing\nlog_level = \"info\"\n");
  expectAgrees("\xEF\xBB\xBF[ daemon ]\r\n\"control_socket\" = \"/crlf.sock\"\r\n");
  expectAgrees("daemon.control_socket = \"/dotted.sock\"\n");
  expectAgrees("\"daemon\" . 'control_socket' = \"/quoted-keys.sock\"\n");
  expectAgrees("[bridge.br0]\naddress = \"198.18.0.1/24\"\n[daemon]\ncontrol_socket = \"/after.sock\"\n");
  // Values before it: an array over several lines, brackets and '#' in strings, an
  // array of tables.
  expectAgrees("[bridge.b1]\ninterface = \"bridge1\"\nuplinks = [ # a ] in a comment\n  \"vlan:v100\", # the [daemon] one\n]\n"
               "[vlan.v100]\nparent = \"em0\"\ntag = 100\n"
               "[[jail.web.interface]]\nbridge = \"b1\" # [daemon]\n"
               "[daemon]\ncontrol_socket = \"/late.sock\"\n");
}

TEST(ControlSocketScan, AbsentMeansTheDefault) {
  expectAgrees("");
  expectAgrees("[daemon]\nlog_level = \"debug\"\n");
  expectAgrees("[bridge.br0]\naddress = \"198.18.0.1/24\"\n");
  // Keys of the same name in other tables are not the daemon's.
  auto s = scanControlSocket("[other]\ncontrol_socket = \"/no.sock\"\n[daemon.x]\ncontrol_socket = \"/no2.sock\"\n");
  EXPECT_EQ(s.answer, Answer::Absent);
}

TEST(ControlSocketScan, UnsureWhereItCannotFollow) {
  for (const char* text : {
           "[daemon]\ncontrol_socket = \"/a\\u0062.sock\"\n",             // an escape
           "[daemon]\ncontrol_socket = \"\"\"/ml.sock\"\"\"\n",           // multi-line
           "x = '''\n[daemon]\ncontrol_socket = \"/fake.sock\"\n'''\n",   // a header inside a string
           "daemon = { control_socket = \"/inline.sock\" }\n",            // inline table
           "[[daemon]]\ncontrol_socket = \"/array.sock\"\n",
           "[daemon.control_socket]\n",
           "[daemon]\ncontrol_socket = \"/one.sock\"\ncontrol_socket = \"/two.sock\"\n",  // twice
           "[daemon]\ncontrol_socket = \"relative.sock\"\n",              // the loader's error to give
           "[daemon]\ncontrol_socket = 5\n",
           "[daemon]\ncontrol_socket = \"/a.sock\" junk\n",
           "[daemon]\ncontrol_socket \"/no-equals.sock\"\n",
           "[\"dae\\u006don\"]\ncontrol_socket = \"/escaped-header.sock\"\n",
           "[daemon]\ncontrol_socket = \"/unterminated\n",
           "x = [\n\"unterminated array\"\n",
           "x = 1\r[daemon]\n",
       }) {
    EXPECT_EQ(scanControlSocket(text).answer, Answer::Unsure) << text;
  }
  std::string long_path = "[daemon]\ncontrol_socket = \"/" + std::string(120, 'a') + "\"\n";
  EXPECT_EQ(scanControlSocket(long_path).answer, Answer::Unsure);
  std::string huge(kMaxScannedConfigBytes + 1, '#');
  EXPECT_EQ(scanControlSocket(huge).answer, Answer::Unsure);
}

TEST(ControlSocketScan, TheSampleConfigurations) {
  for (const char* name : {"config/vnetd.toml.sample", "config/demo.toml"}) {
    std::string path = std::string(VNETD_SOURCE_DIR) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr) << path;
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    expectAgrees(text);
  }
}

}  // namespace
}  // namespace vnetd
