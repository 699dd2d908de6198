#include "core/jail_conf.h"

#include <glob.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/file_util.h"

// FreeBSD sources this follows (usr.sbin/jail): jaillex.l (tokens, quoting, escapes,
// comments: freebsd/freebsd-src caa41f6), jailparse.y (grammar, nested definitions,
// the global "*" jail, .include: current main as in 5BSD/5BSD dd099d5), config.c
// (load_config: merge order and substitution; add_param; equalopts; wild_jail_match;
// wild_jail_name; include_config: HardenedBSD/hardenedBSD bca3c76, the same code as
// freebsd-src main), jail.c main (the file jail(8) reads: /etc/jail.conf or -f).

namespace vnetd {
namespace {

// config.c MAX_INCLUDE_DEPTH.
constexpr int kMaxIncludeDepth = 32;
// Not jail(8) limits: they keep a hostile or broken file from exhausting the stack or
// memory (a variable doubled 30 times is a gigabyte).
constexpr int kMaxNesting = 64;
constexpr size_t kMaxValueBytes = 256 * 1024;
constexpr size_t kMaxSubstitutedBytes = 16 * 1024 * 1024;  // for all jails of a file together
constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

// Messages are one line of printable ASCII whatever the file holds: names and values
// quoted in them may contain newlines (escapes, multi-line strings) or any byte.
std::string oneLine(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// A token's text for a message: at most 40 characters of it.
std::string excerpt(const std::string& text) {
  return text.size() <= 40 ? text : text.substr(0, 40) + "...";
}

// ----------------------------------------------------------------------------- lexer

enum class Tok { Str, Str1, Var, Var1, PlusEq, Char, End, Error };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // string value / variable name / the character / the error message
  int line = 0;
};

bool isAtomChar(unsigned char c) {
  // jaillex.l: [A-Za-z0-9_!%&()\-.:<>?@\[\]^`|~]
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("_!%&()-.:<>?@[]^`|~", c) != nullptr && c != '\0';
}
bool isNameStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }
bool isOctal(char c) { return c >= '0' && c <= '7'; }
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// jaillex.l text2lval: copies raw token text, processing backslash escapes; with
// `tovar`, stops at the first unescaped '$' and returns its offset in *stop. The value
// ends at the first NUL (jail(8) keeps C strings: "\x00" truncates).
std::string unescape(std::string_view raw, bool tovar, size_t* stop) {
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != '\\') {
      if (tovar && c == '$') {
        *stop = i;
        break;
      }
      out += c;
      ++i;
      continue;
    }
    ++i;
    if (i >= raw.size()) {  // a lone backslash at the very end: nothing
      out += '\0';
      break;
    }
    char e = raw[i];
    if (isOctal(e)) {
      int v = e - '0';
      ++i;
      for (int k = 0; k < 2 && i < raw.size() && isOctal(raw[i]); ++k, ++i) v = v * 8 + (raw[i] - '0');
      out += static_cast<char>(v & 0xff);
      continue;
    }
    ++i;
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\n': break;  // continues the line
      case 'x': {
        int v = 0;
        for (int k = 0; k < 2 && i < raw.size() && hexValue(raw[i]) >= 0; ++k, ++i) v = v * 16 + hexValue(raw[i]);
        out += static_cast<char>(v);
        break;
      }
      default: out += e; break;
    }
  }
  if (size_t nul = out.find('\0'); nul != std::string::npos) out.resize(nul);
  return out;
}

// Tokenizes one file like jaillex.l. Stops at the first error, which becomes the last
// token (kind Error), so the parser reports whichever problem comes first in the file.
class Lexer {
 public:
  Lexer(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      Token t = next();
      bool stop = t.kind == Tok::End || t.kind == Tok::Error;
      out.push_back(std::move(t));
      if (stop) return out;
    }
  }

 private:
  Token make(Tok k, std::string text, int line) { return Token{k, std::move(text), line}; }
  Token error(int line, const std::string& what) { return make(Tok::Error, source_ + ":" + std::to_string(line) + ": " + what, line); }
  // A string piece: STR when it starts a string, STR1 when it continues one.
  Token piece(std::string text, int line, bool var) {
    Tok k = instr_ ? (var ? Tok::Var1 : Tok::Str1) : (var ? Tok::Var : Tok::Str);
    instr_ = true;
    return make(k, std::move(text), line);
  }
  void advance(size_t to) {
    for (size_t i = pos_; i < to && i < s_.size(); ++i)
      if (s_[i] == '\n') ++line_;
    pos_ = to;
  }
  char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  bool more(size_t i) const { return i < s_.size(); }

  // Offset of the closing `quote` of a string opened at `open` (backslash escapes any
  // character, newline included), or npos.
  size_t closingQuote(size_t open, char quote) const {
    for (size_t i = open + 1; i < s_.size(); ++i) {
      if (s_[i] == '\\') {
        ++i;
        continue;
      }
      if (s_[i] == quote) return i;
    }
    return std::string_view::npos;
  }

  // `$name` or `${...}` at pos_ (s_[pos_] == '$'); nullopt when neither (then '$' is a
  // one-character string). `dq`: inside "...", where ${...} may not contain '"'.
  std::optional<Token> variable(bool dq) {
    int line = line_;
    char c = at(pos_ + 1);
    if (isNameStart(c)) {
      size_t e = pos_ + 2;
      while (more(e) && isNameChar(at(e))) ++e;
      std::string name(s_.substr(pos_ + 1, e - pos_ - 1));
      advance(e);
      return piece(std::move(name), line, true);
    }
    if (c != '{') return std::nullopt;
    size_t i = pos_ + 2;
    for (;;) {
      if (!more(i)) break;
      char d = at(i);
      if (d == '\\') {
        if (!more(i + 1)) break;
        i += 2;
        continue;
      }
      if (d == '}') {
        size_t dummy = 0;
        std::string name = unescape(s_.substr(pos_ + 2, i - pos_ - 2), false, &dummy);
        advance(i + 1);
        return piece(std::move(name), line, true);
      }
      if (d == '\n' || d == '{' || (dq && d == '"')) break;
      ++i;
    }
    return error(line, "unterminated variable (a ${...} without its '}')");
  }

  // jaillex.l's one-escape token: \c, \<newline>, \ooo, \xHH.
  Token escapeToken() {
    int line = line_;
    size_t e = pos_ + 1;
    if (!more(e)) {
      advance(e);
      return piece("", line, false);
    }
    if (isOctal(at(e))) {
      size_t k = e;
      while (k < e + 3 && isOctal(at(k)) && more(k)) ++k;
      e = k;
    } else if (at(e) == 'x' && hexValue(at(e + 1)) >= 0) {
      e += 2;
      if (hexValue(at(e)) >= 0 && more(e)) ++e;
    } else {
      e += 1;
    }
    size_t dummy = 0;
    std::string v = unescape(s_.substr(pos_, e - pos_), false, &dummy);
    advance(e);
    return piece(std::move(v), line, false);
  }

  Token atom() {
    int line = line_;
    size_t e = pos_;
    while (more(e) && isAtomChar(static_cast<unsigned char>(at(e)))) ++e;
    std::string v(s_.substr(pos_, e - pos_));
    advance(e);
    return piece(std::move(v), line, false);
  }

  // "..." from pos_ (the opening quote in the normal state, or the remainder of a
  // string after a variable in the DQ state): up to the closing quote or the next '$'.
  Token doubleQuoted(size_t content_start, size_t close) {
    int line = line_;
    size_t stop = std::string_view::npos;
    std::string v = unescape(s_.substr(content_start, close - content_start), true, &stop);
    if (stop == std::string_view::npos) {
      advance(close + 1);
      dq_ = false;
    } else {
      advance(content_start + stop);
      dq_ = true;
    }
    return piece(std::move(v), line, false);
  }

  Token next() {
    for (;;) {
      if (!more(pos_)) return make(Tok::End, "", line_);
      char c = s_[pos_];
      if (dq_) {
        // The rest of a "..." string after a variable (jaillex.l state DQ).
        if (c == '"') {
          advance(pos_ + 1);
          dq_ = false;
          continue;
        }
        if (c == '$') {
          if (auto v = variable(true)) return std::move(*v);
          int line = line_;
          advance(pos_ + 1);
          return piece("$", line, false);
        }
        if (c == '\\') return escapeToken();
        // pos_ > 0 here: DQ starts after an opening quote. The scan begins at pos_.
        size_t close = closingQuote(pos_ - 1, '"');
        if (close != std::string_view::npos) return doubleQuoted(pos_, close);
        // Cannot happen for a string that lexed whole; jaillex.l would fall back to
        // its normal state here.
        dq_ = false;
        continue;
      }
      int line = line_;
      switch (c) {
        case ' ':
        case '\t':
          while (more(pos_) && (at(pos_) == ' ' || at(pos_) == '\t')) ++pos_;
          instr_ = false;
          continue;
        case '\n':
          advance(pos_ + 1);
          instr_ = false;
          continue;
        case '#': {
          size_t e = s_.find('\n', pos_);
          pos_ = e == std::string_view::npos ? s_.size() : e;
          continue;
        }
        case '/':
          if (at(pos_ + 1) == '/' && more(pos_ + 1)) {
            size_t e = s_.find('\n', pos_);
            pos_ = e == std::string_view::npos ? s_.size() : e;
            continue;
          }
          if (at(pos_ + 1) == '*' && more(pos_ + 1)) {
            size_t e = s_.find("*/", pos_ + 2);
            if (e == std::string_view::npos) return error(line, "unterminated comment (a /* without its */)");
            advance(e + 2);
            instr_ = false;
            continue;
          }
          advance(pos_ + 1);
          return piece("/", line, false);
        case '+':
          if (at(pos_ + 1) == '=' && more(pos_ + 1)) {
            advance(pos_ + 2);
            instr_ = false;
            return make(Tok::PlusEq, "+=", line);
          }
          advance(pos_ + 1);
          return piece("+", line, false);
        case ',':
        case ';':
        case '=':
        case '{':
        case '}':
          advance(pos_ + 1);
          instr_ = false;
          return make(Tok::Char, std::string(1, c), line);
        case '*':
          advance(pos_ + 1);
          return piece("*", line, false);
        case '$':
          if (auto v = variable(false)) return std::move(*v);
          advance(pos_ + 1);
          return piece("$", line, false);
        case '\\':
          return escapeToken();
        case '\'': {
          size_t close = closingQuote(pos_, '\'');
          if (close == std::string_view::npos) return error(line, "unterminated string (a ' without its closing ')");
          size_t dummy = 0;
          std::string v = unescape(s_.substr(pos_ + 1, close - pos_ - 1), false, &dummy);
          advance(close + 1);
          return piece(std::move(v), line, false);
        }
        case '"': {
          size_t close = closingQuote(pos_, '"');
          if (close == std::string_view::npos) return error(line, "unterminated string (a \" without its closing \")");
          return doubleQuoted(pos_ + 1, close);
        }
        default:
          if (isAtomChar(static_cast<unsigned char>(c))) return atom();
          advance(pos_ + 1);
          return make(Tok::Char, std::string(1, c), line);
      }
    }
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
  int line_ = 1;
  bool instr_ = false;  // jaillex.l instr: the last token was a string piece, no blank since
  bool dq_ = false;     // inside "..." after a variable
};

// ---------------------------------------------------------------------------- parser

struct RawVar {
  std::string name;
  size_t pos = 0;  // where in the string's text the value goes
};
struct RawString {
  std::string text;
  std::vector<RawVar> vars;
  JailConfLocation location;
};
struct RawParam {
  std::string name;
  bool is_var = false;
  bool append = false;
  std::vector<RawString> values;
  JailConfLocation location;
};
struct RawJail {
  std::string name;
  JailConfLocation location;
  std::vector<RawParam> params;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "the end of the file";
    case Tok::PlusEq: return "'+='";
    case Tok::Str:
    case Tok::Str1: return "'" + excerpt(t.text) + "'";
    case Tok::Var:
    case Tok::Var1: return "'$" + excerpt(t.text) + "'";
    case Tok::Error: return t.text;
    case Tok::Char: break;
  }
  unsigned char c = static_cast<unsigned char>(t.text.empty() ? '\0' : t.text[0]);
  if (c >= 0x20 && c < 0x7f) return "'" + t.text + "'";
  if (c == '\r') return "a carriage return (jail(8) rejects CRLF line ends: convert the file)";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return std::string("the byte ") + buf;
}

class Parser {
 public:
  explicit Parser(const JailConfIncluder* includer) : includer_(includer) {}

  Result<void> parseFile(std::string_view text, const std::string& source, int depth) {
    if (text.find('\0') != std::string_view::npos) {
      // jaillex.l hands a NUL to the parser as the end of input: the rest would be ignored.
      int line = 1;
      for (char c : text.substr(0, text.find('\0'))) line += c == '\n';
      return plainError(source + ":" + std::to_string(line) +
                        ": a NUL byte (jail(8) would ignore the rest of the file, or cut a string, there)");
    }
    Lexer lx(text, source);
    std::vector<Token> toks = lx.run();
    File f{toks, 0, source, depth};
    VNETD_TRY(conf(f, 0));
    const Token& t = f.peek();
    if (t.kind != Tok::End) return syntax(f, t, "'}' without a jail definition to close");
    return success();
  }

  std::vector<RawJail>& jails() { return jails_; }

 private:
  struct File {
    const std::vector<Token>& toks;
    size_t i;
    const std::string& source;
    int depth;
    const Token& peek(size_t ahead = 0) const {
      size_t k = i + ahead;
      return k < toks.size() ? toks[k] : toks.back();
    }
    const Token& take() { return toks[i < toks.size() - 1 ? i++ : i]; }
  };

  Error syntax(const File& f, const Token& t, const std::string& what) {
    if (t.kind == Tok::Error) return plainError(t.text);
    return plainError(f.source + ":" + std::to_string(t.line) + ": " + what);
  }
  JailConfLocation at(const File& f, const Token& t) const { return {f.source, t.line}; }

  static bool isChar(const Token& t, char c) { return t.kind == Tok::Char && t.text.size() == 1 && t.text[0] == c; }

  // jailparse.y conf: (jail | param ';' | ';')*, until '}' (in a jail) or the end.
  Result<void> conf(File& f, int nesting) {
    for (;;) {
      const Token& t = f.peek();
      if (t.kind == Tok::End || t.kind == Tok::Error) {
        if (t.kind == Tok::Error) return plainError(t.text);
        if (nesting > 0)
          return plainError(f.source + ":" + std::to_string(t.line) + ": unexpected end of file: jail " +
                            jails_[current_.back()].name + " (" + jails_[current_.back()].location.toString() +
                            ") is missing its '}'");
        return success();
      }
      if (isChar(t, '}')) return success();
      if (isChar(t, ';')) {
        f.take();
        continue;
      }
      if (t.kind == Tok::Str && isChar(f.peek(1), '{')) {
        VNETD_TRY(jail(f, nesting));
        continue;
      }
      VNETD_TRY(param(f));
    }
  }

  // jailparse.y jail: jail_name '{' conf '}'; a nested definition is "outer.inner".
  Result<void> jail(File& f, int nesting) {
    const Token& name = f.take();
    f.take();  // '{'
    if (nesting + 1 > kMaxNesting)
      return plainError(f.source + ":" + std::to_string(name.line) + ": jail definitions nested more than " +
                        std::to_string(kMaxNesting) + " deep");
    RawJail j;
    j.name = current_.empty() ? name.text : jails_[current_.back()].name + "." + name.text;
    j.location = at(f, name);
    jails_.push_back(std::move(j));
    current_.push_back(jails_.size() - 1);
    VNETD_TRY(conf(f, nesting + 1));
    const Token& close = f.peek();
    if (!isChar(close, '}')) return syntax(f, close, "expected '}'");
    f.take();
    current_.pop_back();
    return success();
  }

  // jailparse.y string: (STR | VAR) (STR1 | VAR1)*
  Result<RawString> string(File& f) {
    const Token& first = f.peek();
    if (first.kind != Tok::Str && first.kind != Tok::Var) return syntax(f, first, "expected a value, found " + describe(first));
    RawString s;
    s.location = at(f, first);
    for (bool head = true;; head = false) {
      const Token& t = f.peek();
      bool str = head ? t.kind == Tok::Str : t.kind == Tok::Str1;
      bool var = head ? t.kind == Tok::Var : t.kind == Tok::Var1;
      if (!str && !var) break;
      if (str)
        s.text += t.text;
      else
        s.vars.push_back({t.text, s.text.size()});
      f.take();
    }
    return s;
  }

  // jailparse.y param: name [ ('=' | '+=') ] value (',' value)* ';', or name ';'.
  Result<void> param(File& f) {
    const Token& name = f.peek();
    if (name.kind != Tok::Str && name.kind != Tok::Var)
      return syntax(f, name, "expected a parameter or a jail definition, found " + describe(name));
    f.take();
    RawParam p;
    p.name = name.text;
    p.is_var = name.kind == Tok::Var;
    p.location = at(f, name);
    bool nameval = false, valued = true;
    const Token& op = f.peek();
    if (isChar(op, '=') || op.kind == Tok::PlusEq) {
      p.append = op.kind == Tok::PlusEq;
      f.take();
    } else if (op.kind == Tok::Str || op.kind == Tok::Var) {
      nameval = true;
    } else if (isChar(op, ';')) {
      valued = false;
    } else if (isChar(op, '}') || op.kind == Tok::End) {
      return syntax(f, op, "missing ';' after the parameter '" + p.name + "' (found " + describe(op) + ")");
    } else {
      return syntax(f, op, "expected '=', '+=', a value or ';' after '" + p.name + "', found " + describe(op));
    }
    if (valued) {
      for (;;) {
        auto s = string(f);
        if (!s) return s.error();
        p.values.push_back(std::move(*s));
        if (!isChar(f.peek(), ',')) break;
        f.take();
      }
    }
    const Token& end = f.peek();
    if (!isChar(end, ';'))
      return syntax(f, end, "missing ';' after the parameter '" + p.name + "' (found " + describe(end) + ")");
    f.take();
    // jailparse.y special_param: `.include "file";` (no '=', not a variable).
    if (nameval && !p.is_var && p.name == ".include") return include(f, p);
    RawJail* j;
    if (!current_.empty()) {
      j = &jails_[current_.back()];
    } else {
      if (!global_) {
        jails_.push_back(RawJail{"*", p.location, {}});
        global_ = jails_.size() - 1;
      }
      j = &jails_[*global_];
    }
    j->params.push_back(std::move(p));
    return success();
  }

  // jailparse.y special_param + config.c include_config.
  Result<void> include(File& f, const RawParam& p) {
    const std::string where = p.location.toString();
    if (!includer_) return plainError(where + ": .include is not supported here (read the file with readJailConfFile)");
    for (const RawString& s : p.values) {
      if (!s.vars.empty()) return plainError(where + ": variables not permitted in '.include' filename");
      if (f.depth + 1 > kMaxIncludeDepth) return plainError(where + ": maximum include depth exceeded");
      auto files = (*includer_)(s.text, f.source);
      if (!files) return plainError(where + ": .include \"" + s.text + "\": " + files.error().message());
      for (const JailConfText& t : *files) VNETD_TRY(parseFile(t.text, t.source, f.depth + 1));
    }
    return success();
  }

  const JailConfIncluder* includer_;
  std::vector<RawJail> jails_;
  std::vector<size_t> current_;  // the jail definitions we are inside of
  std::optional<size_t> global_;
};

// -------------------------------------------------------------------- load_config

// config.c equalopts: "opt" and "noopt" name the same parameter, also after a dot.
bool equalopts(const char* opt1, const char* opt2) {
  if (std::strcmp(opt1, opt2) == 0) return true;
  if (std::strncmp(opt1, "no", 2) == 0 && std::strcmp(opt1 + 2, opt2) == 0) return true;
  if (std::strncmp(opt2, "no", 2) == 0 && std::strcmp(opt1, opt2 + 2) == 0) return true;
  const char* p;
  while ((p = std::strchr(opt1, '.')) != nullptr && std::strncmp(opt1, opt2, static_cast<size_t>(++p - opt1)) == 0) {
    opt2 += p - opt1;
    opt1 = p;
    if (std::strncmp(opt1, "no", 2) == 0 && std::strcmp(opt1 + 2, opt2) == 0) return true;
    if (std::strncmp(opt2, "no", 2) == 0 && std::strcmp(opt1, opt2 + 2) == 0) return true;
  }
  return false;
}
bool equalopts(const std::string& a, const std::string& b) { return equalopts(a.c_str(), b.c_str()); }

// config.c wild_jail_name: some dot-separated component is exactly "*".
bool wildJailName(const std::string& name) {
  const char* w = name.c_str();
  for (const char* c = std::strchr(w, '*'); c; c = std::strchr(c + 1, '*'))
    if ((c == w || c[-1] == '.') && (c[1] == '\0' || c[1] == '.')) return true;
  return false;
}

// config.c wild_jail_match: a non-final "*" component matches one component, a final
// "*" one or more.
bool wildJailMatch(const std::string& jail, const std::string& wild) {
  const char *jc, *jd, *wc, *wd;
  for (jc = jail.c_str(), wc = wild.c_str(); (jd = std::strchr(jc, '.')) && (wd = std::strchr(wc, '.'));
       jc = jd + 1, wc = wd + 1)
    if (std::strncmp(jc, wc, static_cast<size_t>(jd - jc + 1)) != 0 && std::strncmp(wc, "*.", 2) != 0) return false;
  return std::strcmp(jc, wc) == 0 || std::strcmp(wc, "*") == 0;
}

// config.c intparams[]: the names jail(8) itself knows (entries without PF_CONV). A
// variable may not share one of these names (add_param).
constexpr const char* kKnownParams[] = {
    "allow.dying",   "command",         "depend",        "exec.clean",       "exec.consolelog",
    "exec.fib",      "exec.jail_user",  "exec.poststart", "exec.poststop",   "exec.prepare",
    "exec.prestart", "exec.prestop",    "exec.release",  "exec.created",     "exec.start",
    "exec.stop",     "exec.system_jail_user", "exec.system_user", "exec.timeout", "interface",
    "ip_hostname",   "mount",           "mount.devfs",   "mount.fdescfs",    "mount.procfs",
    "mount.fstab",   "stop.timeout",    "vnet.interface", "zfs.dataset",     "allow.chflags",
    "allow.mount",   "allow.raw_sockets", "allow.set_hostname", "allow.socket_af", "allow.sysvipc",
    "devfs_ruleset", "host.hostname",   "ip4.addr",      "ip6.addr",         "jid",
    "name",          "path",            "persist",       "securelevel",      "vnet",
};

struct Param {
  std::string name;
  bool is_var = false;
  bool immutable = false;  // name, jid (PF_IMMUTABLE)
  std::vector<RawString> values;
  JailConfLocation location;
  unsigned gen = 0;
  bool bad = false;
};

class JailBuilder {
 public:
  JailBuilder(const RawJail& j, size_t& budget) : budget_(budget) {
    out_.name = j.name;
    out_.location = j.location;
  }

  void fail(const JailConfLocation& where, const std::string& what) {
    if (out_.error.empty()) out_.error = oneLine(where.toString() + ": jail " + out_.name + ": " + what);
  }

  // config.c add_param with a parameter from the file.
  void add(const RawParam& p) {
    for (Param& dp : params_) {
      if (!equalopts(dp.name, p.name)) continue;
      if (dp.is_var != p.is_var) {
        fail(p.location, "variable \"$" + p.name + "\" cannot have the same name as a parameter");
        return;
      }
      if (dp.immutable) {
        fail(p.location, "cannot redefine parameter \"" + dp.name + "\"");
        return;
      }
      dp.name = p.name;
      if (!p.append || p.values.empty()) dp.values.clear();
      dp.values.insert(dp.values.end(), p.values.begin(), p.values.end());
      dp.location = p.location;
      return;
    }
    Param np;
    np.name = p.name;
    np.is_var = p.is_var;
    np.values = p.values;
    np.location = p.location;
    for (const char* known : kKnownParams) {
      if (!equalopts(p.name.c_str(), known)) continue;
      if (p.is_var) {
        fail(p.location, "variable \"$" + p.name + "\" cannot have the same name as a parameter");
        return;
      }
      np.immutable = std::strcmp(known, "name") == 0 || std::strcmp(known, "jid") == 0;
      break;
    }
    params_.push_back(std::move(np));
  }

  // config.c add_param(j, NULL, KP_NAME or KP_JID, value).
  void addImplicit(const char* which, const std::string& value) {
    Param np;
    np.name = which;
    np.immutable = true;
    np.values.push_back(RawString{value, {}, out_.location});
    np.location = out_.location;
    params_.push_back(std::move(np));
  }
  bool hasNameParam() const {
    for (const Param& p : params_)
      if (!p.is_var && equalopts(p.name.c_str(), "name")) return true;
    return false;
  }

  // config.c load_config "Resolve any variable substitutions": parameters in list
  // order; a variable whose own value still holds variables is moved in front of the
  // parameter that uses it and resolved first; a loop, a missing or empty variable, and
  // a list substituted inside a longer string fail the jail.
  void substitute() {
    unsigned pgen = 0;
    for (size_t pi = 0; pi < params_.size(); ++pi) {
      params_[pi].gen = ++pgen;
    find_vars:
      for (size_t si = 0; si < params_[pi].values.size(); ++si) {
        while (!params_[pi].values[si].vars.empty()) {
          Param& p = params_[pi];
          RawString& s = p.values[si];
          RawVar v = s.vars.front();
          size_t vi = find(v.name);
          bool failed = false;
          if (vi == npos || params_[vi].values.empty()) {
            fail(s.location, p.name + ": variable \"" + v.name + "\" not found");
            failed = true;
          } else if (params_[vi].bad) {
            failed = true;
          } else if (params_[vi].gen == pgen) {
            fail(s.location, v.name + ": variable loop");
            failed = true;
          }
          if (!failed) {
            bool unresolved = false;
            for (const RawString& vs : params_[vi].values) unresolved |= !vs.vars.empty();
            if (unresolved) {
              params_[vi].gen = pgen;
              Param moved = std::move(params_[vi]);
              params_.erase(params_.begin() + static_cast<std::ptrdiff_t>(vi));
              if (vi < pi) --pi;
              params_.insert(params_.begin() + static_cast<std::ptrdiff_t>(pi), std::move(moved));
              goto find_vars;  // now resolving the variable, at index pi
            }
            const std::vector<RawString>& vals = params_[vi].values;
            if (vals.size() > 1 && (!s.text.empty() || s.vars.size() > 1)) {
              fail(s.location, p.name + ": array cannot be substituted inline");
              failed = true;
            } else {
              const std::string& insert = vals.front().text;
              if (s.text.size() + insert.size() > kMaxValueBytes || insert.size() > budget_) {
                fail(s.location, p.name + ": value longer than " + std::to_string(kMaxValueBytes) +
                                     " bytes after substitution");
                failed = true;
              } else {
                budget_ -= insert.size();
                s.text.insert(v.pos, insert);
                for (size_t k = 1; k < s.vars.size(); ++k) s.vars[k].pos += insert.size();
                s.vars.erase(s.vars.begin());
                // A list variable alone in a value becomes that many values.
                std::vector<RawString> extra;
                for (size_t k = 1; k < vals.size(); ++k) extra.push_back(RawString{vals[k].text, {}, s.location});
                p.values.insert(p.values.begin() + static_cast<std::ptrdiff_t>(si) + 1, extra.begin(), extra.end());
                continue;
              }
            }
          }
          // bad_var: every parameter of this round is unusable; free_var: drop the reference.
          for (Param& q : params_)
            if (q.gen == pgen) q.bad = true;
          params_[pi].values[si].vars.erase(params_[pi].values[si].vars.begin());
        }
      }
    }
  }

  JailConfJail finish() {
    for (Param& p : params_) {
      if (p.is_var) continue;
      JailConfParam q;
      q.name = p.name;
      q.location = p.location;
      for (RawString& s : p.values) {
        q.values.push_back(std::move(s.text));
        q.value_locations.push_back(s.location);
      }
      out_.params.push_back(std::move(q));
    }
    return std::move(out_);
  }

 private:
  static constexpr size_t npos = static_cast<size_t>(-1);
  size_t find(const std::string& name) const {
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].name == name) return i;  // strcmp: exact, variables and parameters alike
    return npos;
  }

  std::vector<Param> params_;
  JailConfJail out_;
  size_t& budget_;
};

// config.c load_config after parsing.
std::vector<JailConfJail> loadConfig(const std::vector<RawJail>& all) {
  std::vector<size_t> wild, real;
  for (size_t i = 0; i < all.size(); ++i) (wildJailName(all[i].name) ? wild : real).push_back(i);
  std::vector<JailConfJail> out;
  size_t budget = kMaxSubstitutedBytes;
  for (size_t ji : real) {
    const RawJail& j = all[ji];
    JailBuilder b(j, budget);
    // "The jail name implies its name or jid parameter" (strtol && !*ep).
    char* ep = nullptr;
    long n = std::strtol(j.name.c_str(), &ep, 10);
    bool numeric = n != 0 && *ep == '\0';
    b.addImplicit(numeric ? "jid" : "name", j.name);
    bool did_self = false;
    for (size_t wi : wild) {
      if (ji < wi && !did_self) {
        for (const RawParam& p : j.params) b.add(p);
        did_self = true;
      }
      if (wildJailMatch(j.name, all[wi].name))
        for (const RawParam& p : all[wi].params) b.add(p);
    }
    if (!did_self)
      for (const RawParam& p : j.params) b.add(p);
    if (!b.hasNameParam()) b.addImplicit("name", j.name);
    b.substitute();
    out.push_back(b.finish());
  }
  return out;
}

Result<std::vector<JailConfJail>> parse(std::string_view text, std::string_view source_name,
                                        const JailConfIncluder* includer) {
  Parser p(includer);
  auto parsed = p.parseFile(text, std::string(source_name), 0);
  if (!parsed) return plainError(oneLine(parsed.error().message()));
  return loadConfig(p.jails());
}

bool hasGlobMagic(const std::string& pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] == '*' || pattern[i] == '?' || pattern[i] == '[') return true;
  }
  return false;
}

}  // namespace

const JailConfParam* JailConfJail::find(std::string_view param) const {
  for (const JailConfParam& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

std::vector<std::string> JailConfJail::values(std::string_view param) const {
  const JailConfParam* p = find(param);
  return p ? p->values : std::vector<std::string>{};
}

Result<std::vector<JailConfJail>> parseJailConf(std::string_view text, std::string_view source_name) {
  return parse(text, source_name, nullptr);
}

Result<std::vector<JailConfJail>> parseJailConf(std::string_view text, std::string_view source_name,
                                                const JailConfIncluder& includer) {
  return parse(text, source_name, &includer);
}

Result<JailConfFile> readJailConfFile(const std::string& path) {
  JailConfFile out;
  auto main = readSmallFile(path, kMaxFileBytes);
  if (!main) return main.error();
  out.sources.push_back(path);
  // config.c include_config.
  JailConfIncluder includer = [&out](const std::string& pattern,
                                     const std::string& from) -> Result<std::vector<JailConfText>> {
    std::string name = pattern;
    if (!name.empty() && name[0] != '/')
      if (size_t slash = from.rfind('/'); slash != std::string::npos) name = from.substr(0, slash + 1) + name;
    std::vector<std::string> paths;
    if (hasGlobMagic(name)) {
      glob_t g{};
      int rc = ::glob(name.c_str(), 0, nullptr, &g);
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
      ::globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) return plainError(name + ": filename glob failed");
    } else {
      paths.push_back(name);
    }
    std::vector<JailConfText> files;
    for (const std::string& p : paths) {
      auto text = readSmallFile(p, kMaxFileBytes);
      if (!text) return text.error();
      out.sources.push_back(p);
      files.push_back({p, std::move(*text)});
    }
    return files;
  };
  auto jails = parseJailConf(*main, path, includer);
  if (!jails) return jails.error();
  out.jails = std::move(*jails);
  return out;
}

}  // namespace vnetd
