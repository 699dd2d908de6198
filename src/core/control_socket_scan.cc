#include "core/control_socket_scan.h"

#include <sys/un.h>

#include <vector>

namespace vnetd {
namespace {

using Answer = ControlSocketScan::Answer;
using Path = std::vector<std::string>;

// A line-by-line reader of the TOML 1.0 lexical structure: table headers, dotted keys,
// values skipped (strings, arrays over several lines, inline tables). Every method returns
// false for what it does not follow; the caller then answers Unsure.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;  // a byte order mark, as toml++ skips it
  }

  ControlSocketScan run() {
    ControlSocketScan out;
    out.answer = Answer::Unsure;
    Path table;  // the current [table]
    bool found = false;
    std::string path;
    for (;;) {
      blanks();
      if (i_ == s_.size()) break;
      if (newline()) continue;
      if (peek() == '#') {
        if (!endOfLine()) return out;
        continue;
      }
      if (peek() == '[') {
        ++i_;
        const bool array = peek() == '[';
        if (array) ++i_;
        Path header;
        if (!key(header)) return out;
        if (!eat(']') || (array && !eat(']'))) return out;
        if (!header.empty() && header[0] == "daemon" && (array || (header.size() > 1 && header[1] == "control_socket")))
          return out;  // [[daemon]], [daemon.control_socket]: not what the loader accepts
        table = header;
        if (!endOfLine()) return out;
        continue;
      }
      Path k = table;
      if (!key(k)) return out;
      blanks();
      if (!eat('=')) return out;
      blanks();
      if (k.size() >= 1 && k[0] == "daemon" && (k.size() == 1 || k[1] == "control_socket")) {
        // daemon = {...}, daemon.control_socket.x = ...: unsure. The key itself: a plain
        // single-line string, once.
        if (k.size() != 2 || found) return out;
        if (!plainString(path)) return out;
        found = true;
      } else if (!skipValue()) {
        return out;
      }
      if (!endOfLine()) return out;
    }
    if (!found) {
      out.answer = Answer::Absent;
      return out;
    }
    // What the loader would refuse (not absolute, too long for sockaddr_un) stays its to
    // say, with its message.
    if (path.empty() || path[0] != '/' || path.size() >= sizeof(sockaddr_un{}.sun_path)) return out;
    out.answer = Answer::Found;
    out.path = std::move(path);
    return out;
  }

 private:
  int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : -1; }
  bool eat(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++i_;
    return true;
  }
  void blanks() {
    while (peek() == ' ' || peek() == '\t') ++i_;
  }
  bool newline() {
    if (eat('\n')) return true;
    if (peek() == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
      i_ += 2;
      return true;
    }
    return false;
  }
  // Blanks, an optional comment, then the end of the line or of the file.
  bool endOfLine() {
    blanks();
    if (eat('#')) {
      while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
    }
    return i_ == s_.size() || newline();
  }

  static bool bare(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }

  // A dotted key (bare or quoted parts, blanks around the dots), appended to `path`.
  bool key(Path& path) {
    for (;;) {
      blanks();
      std::string part;
      if (peek() == '"' || peek() == '\'') {
        if (!plainString(part)) return false;
      } else {
        while (bare(peek())) part.push_back(static_cast<char>(s_[i_++]));
        if (part.empty()) return false;
      }
      path.push_back(std::move(part));
      blanks();
      if (!eat('.')) return true;
    }
  }

  // A single-line basic string without escapes, or a literal string ('...'): its text.
  bool plainString(std::string& text) {
    const int quote = peek();
    if (quote != '"' && quote != '\'') return false;
    if (s_.substr(i_, 3) == (quote == '"' ? "\"\"\"" : "'''")) return false;  // multi-line
    ++i_;
    text.clear();
    for (;;) {
      int c = peek();
      if (c < 0 || c == '\n' || c == '\r' || c == '\\') return false;
      ++i_;
      if (c == quote) return true;
      text.push_back(static_cast<char>(c));
    }
  }

  // Any single-line string (escapes allowed), skipped.
  bool skipString() {
    const int quote = peek();
    if (s_.substr(i_, 3) == (quote == '"' ? "\"\"\"" : "'''")) return false;  // multi-line
    ++i_;
    for (;;) {
      int c = peek();
      if (c < 0 || c == '\n' || c == '\r') return false;
      ++i_;
      if (c == quote) return true;
      if (c == '\\' && quote == '"') {
        if (peek() < 0 || peek() == '\n' || peek() == '\r') return false;
        ++i_;
      }
    }
  }

  // A value: a string, an array or inline table (arrays may span lines, with comments),
  // or a scalar up to the next blank, comment or end of line.
  bool skipValue() {
    if (peek() == '"' || peek() == '\'') return skipString();
    if (peek() != '[' && peek() != '{') {
      const size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != '\t' && s_[i_] != '\n' && s_[i_] != '\r' &&
             s_[i_] != '#')
        ++i_;
      return i_ > start;
    }
    std::string open;
    while (i_ < s_.size()) {
      int c = peek();
      if (c == '"' || c == '\'') {
        if (!skipString()) return false;
        continue;
      }
      if (c == '#') {  // a comment inside an array, up to the end of its line
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
        continue;
      }
      if (c == '\r' && !(i_ + 1 < s_.size() && s_[i_ + 1] == '\n')) return false;
      ++i_;
      if (c == '[' || c == '{') {
        open.push_back(static_cast<char>(c));
      } else if (c == ']' || c == '}') {
        if (open.empty() || open.back() != (c == ']' ? '[' : '{')) return false;
        open.pop_back();
        if (open.empty()) return true;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

ControlSocketScan scanControlSocket(std::string_view toml) {
  if (toml.size() > kMaxScannedConfigBytes) return {};
  return Scanner(toml).run();
}

}  // namespace vnetd
