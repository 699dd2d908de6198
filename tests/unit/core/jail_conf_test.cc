// The jail.conf(5) reader against jail(8)'s rules (usr.sbin/jail jaillex.l, jailparse.y,
// config.c load_config/add_param/include_config): merge order of global, wildcard and
// own parameters, `+=`, quoting and escapes, comments, substitution at load time,
// .include, and one-line "file:line: what" errors for malformed input.
#include "core/jail_conf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/file_util.h"

namespace vnetd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Strings = std::vector<std::string>;

std::vector<JailConfJail> parseOk(std::string_view text, std::string_view source = "jail.conf") {
  auto r = parseJailConf(text, source);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : std::vector<JailConfJail>{};
}

std::string parseError(std::string_view text, std::string_view source = "jail.conf") {
  auto r = parseJailConf(text, source);
  EXPECT_FALSE(r.ok()) << "parsed, but should not have:\n" << text;
  if (r.ok()) return "";
  std::string m = r.error().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  return m;
}

const JailConfJail& jail(const std::vector<JailConfJail>& jails, const std::string& name) {
  for (const auto& j : jails)
    if (j.name == name) return j;
  static JailConfJail none;
  ADD_FAILURE() << "no jail " << name;
  return none;
}

Strings names(const std::vector<JailConfJail>& jails) {
  Strings out;
  for (const auto& j : jails) out.push_back(j.name);
  return out;
}

Strings paramNames(const JailConfJail& j) {
  Strings out;
  for (const auto& p : j.params) out.push_back(p.name);
  return out;
}

// ------------------------------------------------------------------ the repo's sample

TEST(JailConfTest, TheSampleParses) {
  auto text = readSmallFile(std::string(VNETD_SOURCE_DIR) + "/config/jail.conf.sample", 1 << 20);
  ASSERT_TRUE(text.ok()) << text.error().message();
  auto r = parseJailConf(*text, "jail.conf.sample");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_FALSE(r->empty());
  for (const auto& j : *r) {
    EXPECT_EQ(j.error, "") << j.name;
    // Every jail of the sample gets the global hooks with its own name substituted.
    bool hook = false;
    for (const auto& v : j.values("exec.prestart")) hook |= v.find("vnetd-hook prestart " + j.name) != std::string::npos;
    EXPECT_TRUE(hook) << j.name;
    EXPECT_THAT(j.values("path"), ElementsAre("/usr/jails/" + j.name));
    EXPECT_THAT(j.values("name"), ElementsAre(j.name));
  }
}

// ------------------------------------------------------------------------ merging

TEST(JailConfTest, GlobalsApplyToEveryJailAndAJailOverridesThem) {
  auto jails = parseOk(
      "path = \"/jails/$name\";\n"
      "host.hostname = default;\n"
      "persist;\n"
      "web { host.hostname = web.example; }\n"
      "db { }\n");
  ASSERT_THAT(names(jails), ElementsAre("web", "db"));
  EXPECT_THAT(jail(jails, "web").values("host.hostname"), ElementsAre("web.example"));
  EXPECT_THAT(jail(jails, "db").values("host.hostname"), ElementsAre("default"));
  EXPECT_THAT(jail(jails, "web").values("path"), ElementsAre("/jails/web"));
  EXPECT_THAT(jail(jails, "db").values("path"), ElementsAre("/jails/db"));
  // A bare `persist;` is set, with no value (a boolean true).
  ASSERT_NE(jail(jails, "db").find("persist"), nullptr);
  EXPECT_THAT(jail(jails, "db").values("persist"), IsEmpty());
  EXPECT_EQ(jail(jails, "db").find("vnet"), nullptr);
  // jail(8)'s order: the implicit name first, then globals, then the jail's own new ones.
  EXPECT_THAT(paramNames(jail(jails, "web")), ElementsAre("name", "path", "host.hostname", "persist"));
}

TEST(JailConfTest, AppendGoesGlobalThenJailInFileOrder) {
  auto jails = parseOk(
      "exec.prestart += \"g1\";\n"
      "exec.prestart += \"g2\";\n"
      "a { exec.prestart += \"a1\"; exec.prestart += \"a2\"; }\n"
      "b { exec.prestart = \"b1\"; exec.prestart += \"b2\"; }\n"
      "c { }\n");
  EXPECT_THAT(jail(jails, "a").values("exec.prestart"), ElementsAre("g1", "g2", "a1", "a2"));
  // `=` replaces what the globals set; `+=` then appends.
  EXPECT_THAT(jail(jails, "b").values("exec.prestart"), ElementsAre("b1", "b2"));
  EXPECT_THAT(jail(jails, "c").values("exec.prestart"), ElementsAre("g1", "g2"));
}

TEST(JailConfTest, ListsAndValueLocations) {
  auto jails = parseOk(
      "# line 1\n"
      "ip4.addr = 198.18.0.1, \"198.18.0.2\",\n"
      "   '198.18.0.3';\n"
      "j {\n"
      "  ip4.addr += 198.18.0.4;\n"
      "}\n",
      "/etc/jail.conf");
  const auto& j = jail(jails, "j");
  const JailConfParam* p = j.find("ip4.addr");
  ASSERT_NE(p, nullptr);
  EXPECT_THAT(p->values, ElementsAre("198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4"));
  ASSERT_EQ(p->value_locations.size(), 4u);
  EXPECT_EQ(p->value_locations[0].toString(), "/etc/jail.conf:2");
  EXPECT_EQ(p->value_locations[1].toString(), "/etc/jail.conf:2");
  EXPECT_EQ(p->value_locations[2].toString(), "/etc/jail.conf:3");
  EXPECT_EQ(p->value_locations[3].toString(), "/etc/jail.conf:5");
  EXPECT_EQ(p->location.toString(), "/etc/jail.conf:5");  // the statement that last set it
  EXPECT_EQ(j.location.toString(), "/etc/jail.conf:4");
}

TEST(JailConfTest, NoPrefixNamesTheSameBooleanParameter) {
  // config.c equalopts: allow.nomount and allow.mount are one parameter.
  auto jails = parseOk("allow.mount;\npersist;\nj { allow.nomount; nopersist; }\nk { allow.mount.nodevfs; }\n");
  const auto& j = jail(jails, "j");
  EXPECT_EQ(j.find("allow.mount"), nullptr);
  EXPECT_NE(j.find("allow.nomount"), nullptr);
  EXPECT_THAT(paramNames(j), ElementsAre("name", "allow.nomount", "nopersist"));
  // Only a "no" at the start of a component counts.
  EXPECT_THAT(paramNames(jail(jails, "k")), ElementsAre("name", "allow.mount", "persist", "allow.mount.nodevfs"));
}

TEST(JailConfTest, WildcardsBeforeAJailCanBeOverriddenAfterItWin) {
  auto jails = parseOk(
      "* { exec.start = before; securelevel = 1; }\n"
      "web { exec.start = own; securelevel = 2; devfs_ruleset = 5; }\n"
      "* { securelevel = 3; }\n");
  ASSERT_THAT(names(jails), ElementsAre("web"));  // wildcard jails are not jails
  const auto& web = jail(jails, "web");
  EXPECT_THAT(web.values("exec.start"), ElementsAre("own"));
  EXPECT_THAT(web.values("securelevel"), ElementsAre("3"));
  EXPECT_THAT(web.values("devfs_ruleset"), ElementsAre("5"));
}

TEST(JailConfTest, NestedDefinitionsAndPartialWildcards) {
  auto jails = parseOk(
      "top {\n"
      "  path = /top;\n"
      "  inner { path = /inner; }\n"
      "  host.hostname = top.example;\n"
      "}\n"
      "\"top.*\" { persist; }\n"  // quoted: a bare top.* is two tokens, a syntax error
      "other { }\n");
  ASSERT_THAT(names(jails), ElementsAre("top", "top.inner", "other"));
  EXPECT_THAT(jail(jails, "top").values("host.hostname"), ElementsAre("top.example"));
  // A nested definition has only its own parameters (and the wildcards that match it).
  EXPECT_EQ(jail(jails, "top.inner").find("host.hostname"), nullptr);
  EXPECT_THAT(jail(jails, "top.inner").values("name"), ElementsAre("top.inner"));
  EXPECT_NE(jail(jails, "top.inner").find("persist"), nullptr);
  EXPECT_EQ(jail(jails, "top").find("persist"), nullptr);
  EXPECT_EQ(jail(jails, "other").find("persist"), nullptr);
}

TEST(JailConfTest, TopLevelParametersAllJoinTheOneGlobalWildcard) {
  // Current jailparse.y: every top-level parameter goes into the "*" jail made at the
  // first of them, so a jail defined above that point gets the globals after its own.
  auto jails = parseOk(
      "early { securelevel = 1; }\n"
      "securelevel = 2;\n"
      "late { securelevel = 3; }\n"
      "exec.start = x;\n");
  EXPECT_THAT(jail(jails, "early").values("securelevel"), ElementsAre("2"));
  EXPECT_THAT(jail(jails, "late").values("securelevel"), ElementsAre("3"));
  EXPECT_THAT(jail(jails, "late").values("exec.start"), ElementsAre("x"));
}

TEST(JailConfTest, NumericJailNameIsItsJidAndStillHasAName) {
  auto jails = parseOk("5 { path = /five; }\n");
  const auto& j = jail(jails, "5");
  EXPECT_THAT(j.values("jid"), ElementsAre("5"));
  EXPECT_THAT(j.values("name"), ElementsAre("5"));
  EXPECT_THAT(paramNames(j), ElementsAre("jid", "path", "name"));
}

// ------------------------------------------------------------ strings and comments

TEST(JailConfTest, CommentsOfAllThreeKinds) {
  auto jails = parseOk(
      "# shell\n"
      "// C++\n"
      "/* C,\n"
      "   on two lines */ j { path = /x; # trailing\n"
      "  persist; // trailing\n"
      "  /* inside */ vnet;\n"
      "}\n");
  const auto& j = jail(jails, "j");
  EXPECT_EQ(j.location.line, 4);
  EXPECT_THAT(paramNames(j), ElementsAre("name", "path", "persist", "vnet"));
  EXPECT_EQ(j.find("vnet")->location.line, 6);
}

TEST(JailConfTest, DoubleSlashStartsACommentEvenInABareWord) {
  // jaillex.l: "//" begins a comment wherever a token may start ("/" is a token of its
  // own), so it swallows the rest of a bare path, ';' included; quoted, it is a path.
  EXPECT_EQ(parseError("j { path = /usr//local;\n}\n"), "jail.conf:2: missing ';' after the parameter 'path' (found '}')");
  auto jails = parseOk("j { path = \"/usr//local\"; }\n");
  EXPECT_THAT(jail(jails, "j").values("path"), ElementsAre("/usr//local"));
}

TEST(JailConfTest, QuotingAndEscapes) {
  auto jails = parseOk(
      "j {\n"
      "  a = 'single $name ${name}';\n"          // no substitution in '...'
      "  b = \"double $name ${name}\";\n"        // substitution in "..."
      "  c = bare$name;\n"                       // and in bare words
      "  d = \"tab\\there\\nnl \\\"q\\\" \\101\\x42\";\n"
      "  e = 'esc\\'aped';\n"                    // escapes work in '...' too
      "  f = one\" two \"'three';\n"             // adjacent pieces are one string
      "  g = \"con\\\ntinued\";\n"               // backslash-newline joins lines
      "  h = \"\\$name\";\n"                     // an escaped $ is a dollar
      "  i = \"a $ b\";\n"                       // a lone $ is a dollar
      "  k = \"cut\\x00here\";\n"                // jail(8) keeps C strings
      "  line = here;\n"
      "}\n");
  const auto& j = jail(jails, "j");
  EXPECT_THAT(j.values("a"), ElementsAre("single $name ${name}"));
  EXPECT_THAT(j.values("b"), ElementsAre("double j j"));
  EXPECT_THAT(j.values("c"), ElementsAre("barej"));
  EXPECT_THAT(j.values("d"), ElementsAre("tab\there\nnl \"q\" AB"));
  EXPECT_THAT(j.values("e"), ElementsAre("esc'aped"));
  EXPECT_THAT(j.values("f"), ElementsAre("one two three"));
  EXPECT_THAT(j.values("g"), ElementsAre("continued"));
  EXPECT_THAT(j.values("h"), ElementsAre("$name"));
  EXPECT_THAT(j.values("i"), ElementsAre("a $ b"));
  EXPECT_THAT(j.values("k"), ElementsAre("cut"));
  // The continued line counts: "line" is on line 13.
  EXPECT_EQ(j.find("line")->location.line, 13);
}

TEST(JailConfTest, NameValueWithoutEquals) {
  auto jails = parseOk("j { host.hostname \"j.example\"; }\n");
  EXPECT_THAT(jail(jails, "j").values("host.hostname"), ElementsAre("j.example"));
}

// ------------------------------------------------------------------- substitution

TEST(JailConfTest, VariablesAndParametersAreSubstitutedPerJail) {
  auto jails = parseOk(
      "$base = \"/jails\";\n"
      "path = \"${base}/${name}\";\n"
      "exec.created = \"echo ${host.hostname} $later\";\n"  // defined below: still found
      "$later = late;\n"
      "web { host.hostname = web.example; }\n"
      "db { host.hostname = db.example; $base = /other; }\n");
  EXPECT_THAT(jail(jails, "web").values("path"), ElementsAre("/jails/web"));
  EXPECT_THAT(jail(jails, "db").values("path"), ElementsAre("/other/db"));
  EXPECT_THAT(jail(jails, "web").values("exec.created"), ElementsAre("echo web.example late"));
  // Variables are not parameters.
  EXPECT_EQ(jail(jails, "web").find("base"), nullptr);
  EXPECT_EQ(jail(jails, "web").error, "");
}

TEST(JailConfTest, VariableChainsResolveInDependencyOrder) {
  auto jails = parseOk(
      "exec.start = \"$c\";\n"
      "$c = \"$b-c\";\n"
      "$b = \"$a-b\";\n"
      "$a = a;\n"
      "j { }\n");
  const auto& j = jail(jails, "j");
  EXPECT_EQ(j.error, "");
  EXPECT_THAT(j.values("exec.start"), ElementsAre("a-b-c"));
}

TEST(JailConfTest, AListVariableAloneBecomesSeveralValues) {
  auto jails = parseOk(
      "$addrs = 198.18.0.1, 198.18.0.2;\n"
      "a { ip4.addr = $addrs, 198.18.0.3; }\n"
      "b { ip4.addr = \"x$addrs\"; }\n");
  EXPECT_THAT(jail(jails, "a").values("ip4.addr"), ElementsAre("198.18.0.1", "198.18.0.2", "198.18.0.3"));
  EXPECT_EQ(jail(jails, "a").error, "");
  EXPECT_THAT(jail(jails, "b").error, HasSubstr("array cannot be substituted inline"));
}

TEST(JailConfTest, SubstitutionFailuresFailOnlyThatJail) {
  auto jails = parseOk(
      "missing { exec.start = \"$nope\"; }\n"
      "loop { $x = \"$y\"; $y = \"$x\"; path = $x; }\n"
      "empty { vnet; path = $vnet; }\n"
      "fine { path = /fine; }\n",
      "/etc/jail.conf");
  EXPECT_EQ(jail(jails, "missing").error,
            "/etc/jail.conf:1: jail missing: exec.start: variable \"nope\" not found");
  EXPECT_THAT(jail(jails, "loop").error, HasSubstr("variable loop"));
  EXPECT_THAT(jail(jails, "empty").error, HasSubstr("variable \"vnet\" not found"));
  EXPECT_EQ(jail(jails, "fine").error, "");
  EXPECT_THAT(jail(jails, "fine").values("path"), ElementsAre("/fine"));
}

TEST(JailConfTest, RulesOfAddParam) {
  auto jails = parseOk(
      "renamed { name = other; }\n"
      "clash { $path = /x; }\n"
      "mixed { $v = 1; v = 2; }\n");
  EXPECT_THAT(jail(jails, "renamed").error, HasSubstr("cannot redefine parameter \"name\""));
  EXPECT_THAT(jail(jails, "clash").error, HasSubstr("variable \"$path\" cannot have the same name as a parameter"));
  EXPECT_THAT(jail(jails, "mixed").error, HasSubstr("cannot have the same name"));
}

TEST(JailConfTest, RunawaySubstitutionIsCutOff) {
  std::string text = "$v0 = xxxxxxxxxxxxxxxx;\n";
  for (int i = 1; i <= 30; ++i)
    text += "$v" + std::to_string(i) + " = \"${v" + std::to_string(i - 1) + "}${v" + std::to_string(i - 1) + "}\";\n";
  text += "j { path = $v30; }\n";
  auto jails = parseOk(text);
  EXPECT_THAT(jail(jails, "j").error, HasSubstr("after substitution"));
}

// ------------------------------------------------------------------------ .include

TEST(JailConfTest, IncludeNeedsAnIncluder) {
  EXPECT_EQ(parseError("j { }\n.include \"/etc/jail.conf.d/*.conf\";\n", "/etc/jail.conf"),
            "/etc/jail.conf:2: .include is not supported here (read the file with readJailConfFile)");
}

TEST(JailConfTest, IncludedTextJoinsTheSameParse) {
  std::map<std::string, std::string> files = {
      {"/etc/jail.conf.d/web.conf", "web { host.hostname = web.example; }\n"},
      {"/etc/jail.conf.d/params.conf", "persist;\n"},
  };
  Strings asked;
  JailConfIncluder includer = [&](const std::string& pattern, const std::string& from) -> Result<std::vector<JailConfText>> {
    asked.push_back(from + " -> " + pattern);
    auto f = files.find(pattern);
    if (f == files.end()) return plainError(pattern + ": no such file");
    return std::vector<JailConfText>{{f->first, f->second}};
  };
  auto r = parseJailConf(
      "path = \"/j/$name\";\n"
      ".include \"/etc/jail.conf.d/web.conf\";\n"
      "db { .include \"/etc/jail.conf.d/params.conf\"; }\n",
      "/etc/jail.conf", includer);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_THAT(names(*r), ElementsAre("web", "db"));
  EXPECT_THAT(jail(*r, "web").values("path"), ElementsAre("/j/web"));
  EXPECT_EQ(jail(*r, "web").location.toString(), "/etc/jail.conf.d/web.conf:1");
  // Included inside a jail definition: the file's parameters belong to that jail.
  EXPECT_NE(jail(*r, "db").find("persist"), nullptr);
  EXPECT_EQ(jail(*r, "web").find("persist"), nullptr);
  EXPECT_THAT(asked, ElementsAre("/etc/jail.conf -> /etc/jail.conf.d/web.conf",
                                 "/etc/jail.conf -> /etc/jail.conf.d/params.conf"));

  auto missing = parseJailConf(".include \"/nowhere.conf\";\n", "/etc/jail.conf", includer);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "/etc/jail.conf:1: .include \"/nowhere.conf\": /nowhere.conf: no such file");

  auto var = parseJailConf(".include \"/etc/jail.conf.d/$name.conf\";\n", "/etc/jail.conf", includer);
  ASSERT_FALSE(var.ok());
  EXPECT_THAT(var.error().message(), HasSubstr("variables not permitted in '.include' filename"));

  // An include loop stops at jail(8)'s 32 levels.
  JailConfIncluder self = [](const std::string&, const std::string&) -> Result<std::vector<JailConfText>> {
    return std::vector<JailConfText>{{"/etc/loop.conf", ".include \"/etc/loop.conf\";\n"}};
  };
  auto loop = parseJailConf(".include \"/etc/loop.conf\";\n", "/etc/jail.conf", self);
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().message(), "/etc/loop.conf:1: maximum include depth exceeded");
}

class JailConfFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vnetd-jailconf-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + "/" + name).parent_path());
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(JailConfFileTest, RelativeIncludesGlobsInOrderAndMissingFiles) {
  write("jail.conf", "path = \"/j/$name\";\n.include \"jail.conf.d/*.conf\";\n.include \"none.d/*.conf\";\n");
  write("jail.conf.d/b.conf", "b { }\n");
  write("jail.conf.d/a.conf", "a { }\n");
  write("jail.conf.d/skip.txt", "skip { }\n");
  auto r = readJailConfFile(dir_ + "/jail.conf");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_THAT(names(r->jails), ElementsAre("a", "b"));  // glob order, not write order
  EXPECT_THAT(r->sources, ElementsAre(dir_ + "/jail.conf", dir_ + "/jail.conf.d/a.conf", dir_ + "/jail.conf.d/b.conf"));
  EXPECT_THAT(jail(r->jails, "a").values("path"), ElementsAre("/j/a"));

  // A path that is not a glob must exist.
  write("strict.conf", ".include \"absent.conf\";\n");
  auto strict = readJailConfFile(dir_ + "/strict.conf");
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(strict.error().message(), HasSubstr(dir_ + "/strict.conf:1: .include \"absent.conf\""));
  EXPECT_THAT(strict.error().message(), HasSubstr(dir_ + "/absent.conf"));

  auto nofile = readJailConfFile(dir_ + "/nothing.conf");
  EXPECT_FALSE(nofile.ok());
}

// ---------------------------------------------------------------- malformed input

TEST(JailConfTest, MalformedInputGivesOneLineWithFileAndLine) {
  EXPECT_EQ(parseError("j {\n  path = /x\n}\n", "/etc/jail.conf"),
            "/etc/jail.conf:3: missing ';' after the parameter 'path' (found '}')");
  EXPECT_EQ(parseError("j {\n  path = /x;\n", "/etc/jail.conf"),
            "/etc/jail.conf:3: unexpected end of file: jail j (/etc/jail.conf:1) is missing its '}'");
  EXPECT_EQ(parseError("j { }\n}\n", "/etc/jail.conf"),
            "/etc/jail.conf:2: '}' without a jail definition to close");
  EXPECT_EQ(parseError("j {\n  path = \"/x;\n}\n", "/etc/jail.conf"),
            "/etc/jail.conf:2: unterminated string (a \" without its closing \")");
  EXPECT_EQ(parseError("j { path = 'x; }\n"), "jail.conf:1: unterminated string (a ' without its closing ')");
  EXPECT_EQ(parseError("j { }\n/* never closed\n\n"), "jail.conf:2: unterminated comment (a /* without its */)");
  EXPECT_EQ(parseError("j { path = ${name\n; }\n"), "jail.conf:1: unterminated variable (a ${...} without its '}')");
  EXPECT_EQ(parseError("top.* { }\n"), "jail.conf:1: expected '=', '+=', a value or ';' after 'top.', found '*'");
  EXPECT_EQ(parseError("j { path = ; }\n"), "jail.conf:1: expected a value, found ';'");
  EXPECT_EQ(parseError("j { path = a,; }\n"), "jail.conf:1: expected a value, found ';'");
  EXPECT_EQ(parseError("$v { }\n"), "jail.conf:1: expected '=', '+=', a value or ';' after 'v', found '{'");
  EXPECT_EQ(parseError("j { path\"x\" = 1; }\n"), "jail.conf:1: expected '=', '+=', a value or ';' after 'path', found 'x'");
  EXPECT_EQ(parseError("j {\r\n}\r\n"),
            "jail.conf:1: expected a parameter or a jail definition, found a carriage return (jail(8) rejects CRLF "
            "line ends: convert the file)");
  EXPECT_EQ(parseError(std::string_view("j { }\n\0x", 8)),
            "jail.conf:2: a NUL byte (jail(8) would ignore the rest of the file, or cut a string, there)");
  EXPECT_THAT(parseError("j { path = \xc3\xa9; }\n"), HasSubstr("the byte 0xc3"));
  // The first problem in the file is the one reported.
  EXPECT_EQ(parseError("a { x }\nb { y = \"open\n"), "jail.conf:1: missing ';' after the parameter 'x' (found '}')");
  // Deep nesting is refused rather than recursed into.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "n {";
  EXPECT_THAT(parseError(deep), HasSubstr("nested more than 64 deep"));
}

TEST(JailConfTest, MessagesStayOnOneLineWhateverTheFileHolds) {
  // A string spanning lines, quoted in a syntax error; a name with a newline escape in a
  // jail's error; long text cut short.
  EXPECT_EQ(parseError("j { x y \"a\nb\"; }\n"), "jail.conf:1: missing ';' after the parameter 'x' (found 'a\\x0ab')");
  auto jails = parseOk("j { \"a\\nb\" = $nope; }\n");
  EXPECT_EQ(jail(jails, "j").error, "jail.conf:1: jail j: a\\x0ab: variable \"nope\" not found");
  EXPECT_EQ(parseError("j { x y " + std::string(100, 'z') + "; }\n"),
            "jail.conf:1: missing ';' after the parameter 'x' (found '" + std::string(40, 'z') + "...')");
}

TEST(JailConfTest, EmptyAndCommentOnlyFilesHaveNoJails) {
  EXPECT_THAT(parseOk(""), IsEmpty());
  EXPECT_THAT(parseOk("# nothing\n;;\npersist;\n"), IsEmpty());
}

}  // namespace
}  // namespace vnetd
