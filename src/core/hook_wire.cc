#include "core/hook_wire.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "core/naming.h"

namespace vnetd::control {

std::string encodeHookRequestLine(HookPhase phase, std::string_view jail) {
  std::string line = "{\"jail\":\"";
  line += jail;
  line += "\",\"op\":\"hook\",\"phase\":\"";
  line += hookPhaseName(phase);
  line += "\",\"v\":1}";
  return line;
}

namespace {

// A strict JSON (RFC 8259) reader over one line, as nlohmann::json::parse reads it: an
// optional UTF-8 byte order mark, strings validated as UTF-8 (RFC 3629 ranges) with
// escapes and surrogate pairs checked, numbers by the JSON grammar, nothing but
// whitespace after the value. Containers are skipped with an explicit stack, so a hostile
// nesting depth costs memory in proportion to the line, never stack.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool atEnd() const { return i_ == s_.size(); }
  // The next byte, or -1 at the end.
  int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : -1; }
  bool eat(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++i_;
    return true;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool bom() {
    if (peek() != 0xEF) return true;
    if (s_.substr(i_, 3) != "\xEF\xBB\xBF") return false;
    i_ += 3;
    return true;
  }

  // A string at the cursor; its decoded bytes go to `out` when not null.
  bool string(std::string* out) {
    if (!eat('"')) return false;
    for (;;) {
      int c = peek();
      if (c < 0) return false;
      ++i_;
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x80) {
        if (out) out->push_back(static_cast<char>(c));
      } else if (!utf8(c, out)) {
        return false;
      }
    }
  }

  // A number at the cursor; `one` says whether it is exactly the unsigned integer 1 (the
  // only protocol version there is).
  bool number(bool* one) {
    const size_t start = i_;
    eat('-');
    if (eat('0')) {
    } else if (digit()) {
      while (digit()) {}
    } else {
      return false;
    }
    if (eat('.')) {
      if (!digit()) return false;
      while (digit()) {}
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digit()) return false;
      while (digit()) {}
    }
    const std::string_view token = s_.substr(start, i_ - start);
    // nlohmann reads every number it cannot keep as a 64-bit integer with strtod and
    // rejects one whose value is not finite (parser: "number overflow", error 406), so a
    // huge exponent anywhere in the line fails the whole reply; underflow does not.
    // Neither side calls setlocale, so strtod's decimal point is '.'.
    if (std::isinf(std::strtod(std::string(token).c_str(), nullptr))) return false;
    if (one) *one = token == "1";
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  // Any value at the cursor, skipped.
  bool skipValue() {
    std::string open;  // '[' / '{' of the containers we are in
    for (;;) {
      ws();
      // One value (or the start of a container).
      switch (peek()) {
        case '{':
          ++i_;
          ws();
          if (eat('}')) break;
          open.push_back('{');
          if (!member()) return false;
          continue;
        case '[':
          ++i_;
          ws();
          if (eat(']')) break;
          open.push_back('[');
          continue;
        case '"':
          if (!string(nullptr)) return false;
          break;
        case 't':
          if (!literal("true")) return false;
          break;
        case 'f':
          if (!literal("false")) return false;
          break;
        case 'n':
          if (!literal("null")) return false;
          break;
        default:
          if (!number(nullptr)) return false;
      }
      // After a value: close containers until one continues.
      for (;;) {
        if (open.empty()) return true;
        ws();
        if (eat(',')) {
          if (open.back() == '{') {
            ws();
            if (!member()) return false;
          }
          break;
        }
        if (!eat(open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }

  // `"key" :` of an object member (the cursor at the key).
  bool member(std::string* key = nullptr) {
    if (!string(key)) return false;
    ws();
    return eat(':');
  }

 private:
  bool digit() {
    int c = peek();
    if (c < '0' || c > '9') return false;
    ++i_;
    return true;
  }

  bool hex4(unsigned& v) {
    v = 0;
    for (int k = 0; k < 4; ++k) {
      int c = peek();
      unsigned d;
      if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
      else return false;
      ++i_;
      v = v * 16 + d;
    }
    return true;
  }

  bool escape(std::string* out) {
    int c = peek();
    if (c < 0) return false;
    ++i_;
    char plain;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        unsigned cp;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
        if (cp >= 0xD800 && cp <= 0xDBFF) {              // a high one: its low one must follow
          unsigned low;
          if (!eat('\\') || !eat('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out) appendUtf8(*out, cp);
        return true;
      }
      default: return false;
    }
    if (out) out->push_back(plain);
    return true;
  }

  static void appendUtf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // The rest of a multi-byte UTF-8 sequence whose lead byte `lead` was read (RFC 3629
  // section 4: no overlong forms, no surrogates, nothing above U+10FFFF).
  bool utf8(int lead, std::string* out) {
    int n;
    int lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) n = 1;
    else if (lead == 0xE0) n = 2, lo = 0xA0;
    else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) n = 2;
    else if (lead == 0xED) n = 2, hi = 0x9F;
    else if (lead == 0xF0) n = 3, lo = 0x90;
    else if (lead >= 0xF1 && lead <= 0xF3) n = 3;
    else if (lead == 0xF4) n = 3, hi = 0x8F;
    else return false;
    const size_t start = i_ - 1;
    for (int k = 0; k < n; ++k) {
      int c = peek();
      if (k == 0 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return false;
      ++i_;
    }
    if (out) out->append(s_.substr(start, i_ - start));
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// What the envelope and a hook reply are made of; a member given twice counts with its
// last value, as nlohmann's object keeps it.
enum class Kind { Absent, True, False, Other };

struct Fields {
  Kind v = Kind::Absent;  // True: the number 1
  Kind ok = Kind::Absent;
  Kind changed = Kind::Absent;
  Kind error = Kind::Absent;  // True: a string (in error_text)
  std::string error_text;
  Kind names = Kind::Absent;  // True: an array (in name_list; bad_name: an element is no string)
  std::vector<std::string> name_list;
  bool bad_name = false;
};

Kind boolean(Reader& r, bool& parsed) {
  if (r.peek() == 't') return (parsed = r.literal("true")) ? Kind::True : Kind::Other;
  if (r.peek() == 'f') return (parsed = r.literal("false")) ? Kind::False : Kind::Other;
  parsed = r.skipValue();
  return Kind::Other;
}

bool readObject(Reader& r, Fields& f) {
  if (!r.bom()) return false;
  r.ws();
  if (!r.eat('{')) return false;
  r.ws();
  if (!r.eat('}')) {
    for (;;) {
      std::string key;
      r.ws();
      if (!r.member(&key)) return false;
      r.ws();
      bool parsed = true;
      if (key == "v") {
        bool one = false;
        if (r.peek() == '-' || (r.peek() >= '0' && r.peek() <= '9')) {
          parsed = r.number(&one);
        } else {
          parsed = r.skipValue();
        }
        f.v = one ? Kind::True : Kind::Other;
      } else if (key == "ok") {
        f.ok = boolean(r, parsed);
      } else if (key == "changed") {
        f.changed = boolean(r, parsed);
      } else if (key == "error") {
        if (r.peek() == '"') {
          f.error_text.clear();
          parsed = r.string(&f.error_text);
          f.error = Kind::True;
        } else {
          parsed = r.skipValue();
          f.error = Kind::Other;
        }
      } else if (key == "jail_side_names") {
        f.name_list.clear();
        f.bad_name = false;
        if (r.eat('[')) {
          f.names = Kind::True;
          r.ws();
          if (!r.eat(']')) {
            for (;;) {
              r.ws();
              if (r.peek() == '"') {
                f.name_list.emplace_back();
                if (!r.string(&f.name_list.back())) return false;
              } else {
                if (!r.skipValue()) return false;
                f.bad_name = true;
              }
              r.ws();
              if (r.eat(']')) break;
              if (!r.eat(',')) return false;
            }
          }
        } else {
          parsed = r.skipValue();
          f.names = Kind::Other;
        }
      } else {
        parsed = r.skipValue();
      }
      if (!parsed) return false;
      r.ws();
      if (r.eat('}')) break;
      if (!r.eat(',')) return false;
    }
  }
  r.ws();
  // nlohmann's lexer takes a NUL byte where a token starts for the end of the input
  // (lexer::scan, case '\0'), so whatever follows one after the object is never read.
  return r.atEnd() || r.peek() == 0;
}

}  // namespace

Result<HookReply> decodeHookReplyLine(std::string_view line) {
  // The checks and their messages in control_protocol.cc's order (decodeEnvelope, then
  // decodeHookReply).
  Fields f;
  Reader r(line);
  if (!readObject(r, f)) return plainError("vnetd sent a reply that is not a JSON object");
  if (f.v != Kind::True) return plainError("vnetd replied with an unsupported protocol version");
  if (f.ok != Kind::True && f.ok != Kind::False) return plainError("vnetd sent a reply without \"ok\"");
  if (f.ok == Kind::False) {
    if (f.error != Kind::True) return plainError("vnetd reported a failure without a message");
    return plainError(f.error_text);
  }
  if ((f.changed != Kind::True && f.changed != Kind::False) || f.names != Kind::True)
    return plainError("vnetd sent a malformed hook reply");
  if (f.bad_name) return plainError("vnetd sent a malformed hook reply (bad interface name)");
  for (const auto& n : f.name_list)
    if (!isValidInterfaceName(n)) return plainError("vnetd sent a malformed hook reply (bad interface name)");
  HookReply out;
  out.changed = f.changed == Kind::True;
  out.jail_side_names = std::move(f.name_list);
  return out;
}

}  // namespace vnetd::control
