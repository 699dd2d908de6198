// A reader of jail.conf(5): for each jail, the effective values of its parameters as
// jail(8) computes them when it loads the file — no more (nothing is checked against
// the kernel's parameter list, no addresses are resolved, no fstab is read).
//
// It follows FreeBSD's usr.sbin/jail sources, read for this (jaillex.l, jailparse.y,
// config.c load_config/add_param/include_config, jail.c main); the comments in
// jail_conf.cc name the function each rule comes from. In short:
//
//   - Statements: `name;` (no value: a boolean true), `name = v1, v2;`, `name += v;`,
//     `name v;`, `$var = v;` (a variable), `jail { ... }` (a jail; a definition nested
//     in another is the jail "outer.inner"), `.include "path-or-glob";`.
//   - Strings: bare words, '...' and "..." with C backslash escapes (\n, \t, \ooo, \xHH,
//     backslash-newline continues the line) in all three; adjacent pieces without
//     blanks are one string. $name and ${name} are substituted in bare words and
//     "...", not in '...'. Comments: # ..., // ..., /* ... */.
//   - Parameters outside any jail go to one global wildcard jail "*". A jail's
//     parameters are, in this order: the wildcard jails ("*", "foo.*") defined before
//     it, its own, the wildcard jails defined after it — later settings replace
//     earlier ones, `+=` appends. Substitution happens per jail after that merge, so
//     ${name} in a global parameter is each jail's name.
//
// FreeBSD versions differ in one corner: before nested definitions existed
// (freebsd/freebsd-src jailparse.y 8d425bf), each run of top-level parameters that
// follows a jail definition became its own "*" jail at that position; current
// jailparse.y (with nesting) puts every top-level parameter in the one "*" created at
// the first of them. This reader does the latter. Files that keep their top-level
// parameters above the jails (every example in jail.conf(5)) read the same on both.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace vnetd {

struct JailConfLocation {
  std::string source;  // the file name as given, or as .include found it
  int line = 0;
  std::string toString() const { return source + ":" + std::to_string(line); }
  friend bool operator==(const JailConfLocation&, const JailConfLocation&) = default;
};

struct JailConfParam {
  std::string name;  // as last written (allow.nomount after allow.mount: the same parameter)
  // Substituted values in order; empty for a bare `name;`.
  std::vector<std::string> values;
  std::vector<JailConfLocation> value_locations;  // where each value was written
  JailConfLocation location;                      // the statement that last set it
};

struct JailConfJail {
  std::string name;
  JailConfLocation location;  // the definition `name {`
  // The effective parameters in jail(8)'s order (the implicit `name`, or `jid` for a
  // numeric jail name, first); variables ($x) are not parameters and are not listed.
  std::vector<JailConfParam> params;
  // "" or why jail(8) would refuse to start this jail although the file parses
  // (e.g. `file:12: jail web: exec.start: variable "foo" not found`). The other jails
  // of the file are unaffected, as in jail(8).
  std::string error;

  const JailConfParam* find(std::string_view param) const;  // exact name
  // The values of `param` ({} when not set), e.g. values("exec.prestart").
  std::vector<std::string> values(std::string_view param) const;
};

// A file handed to the reader by an includer.
struct JailConfText {
  std::string source;
  std::string text;
};

// Resolves `.include "pattern";` written in the file `from`: the files to read, in
// order (none when a glob matches nothing). Errors become the reader's error.
using JailConfIncluder = std::function<Result<std::vector<JailConfText>>(const std::string& pattern,
                                                                         const std::string& from)>;

// Reads jail.conf text; `.include` is an error (there is no file system here).
// Errors (syntax, unterminated string/comment/variable, bytes jail(8) rejects) are one
// line, "source:line: what". Jails are listed in file order, wildcard jails omitted.
Result<std::vector<JailConfJail>> parseJailConf(std::string_view text, std::string_view source_name);
// The same, resolving `.include` through `includer` (at most 32 levels deep, as jail(8)).
Result<std::vector<JailConfJail>> parseJailConf(std::string_view text, std::string_view source_name,
                                                const JailConfIncluder& includer);

struct JailConfFile {
  std::vector<JailConfJail> jails;
  std::vector<std::string> sources;  // every file read: the file, then what it included
};

// Reads the file at `path` and what it includes as jail(8) does (config.c
// include_config): a relative path is taken from the including file's directory, a
// pattern with * ? [ is a glob whose matches are read in sorted order (none is fine),
// any other path must exist.
Result<JailConfFile> readJailConfFile(const std::string& path);

}  // namespace vnetd
