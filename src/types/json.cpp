#include "ember/core/types/json.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace ember {
namespace {

// One step from the root to the value being written, kept on the call stack so
// that an error can name the field without building paths on the happy path.
struct PathStep {
  const PathStep* parent;
  std::string_view key; // Empty for a list item.
  std::size_t index;
};

void append_path(std::string& out, const PathStep* step) {
  if (step == nullptr)
    return;
  append_path(out, step->parent);
  if (!step->key.empty() || step->index == std::string_view::npos) {
    if (step->parent != nullptr)
      out += '.';
    out += step->key;
  } else {
    out += '[' + std::to_string(step->index) + ']';
  }
}

// "field 'a.b[2]' is" for a nested value, "value is" for the top-level one.
std::string subject(const PathStep* step) {
  if (step == nullptr)
    return "value is";
  std::string path;
  append_path(path, step);
  return "field '" + path + "' is";
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 if it is not one
// (overlong forms, surrogates and code points past U+10FFFF are rejected).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t length = 0;
  char32_t code_point = 0;
  char32_t smallest = 0;
  if (lead < 0x80) {
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size())
    return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80)
      return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  if (code_point < smallest || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF))
    return 0;
  return length;
}

class Writer {
public:
  // A lenient writer never throws: it is for logs and test output.
  explicit Writer(bool lenient) : lenient_(lenient) {}

  void write(const Value& value, const PathStep* path, std::size_t depth) {
    switch (value.kind()) {
    case ValueKind::null:
      out_ += "null";
      break;
    case ValueKind::boolean:
      out_ += value.as_bool() ? "true" : "false";
      break;
    case ValueKind::integer:
      append_number(value.as_integer());
      break;
    case ValueKind::number:
      write_double(value.as_number(), path);
      break;
    case ValueKind::string:
      write_string(value.as_string(), path);
      break;
    case ValueKind::list:
      write_list(value.as_list(), path, depth + 1);
      break;
    case ValueKind::record:
      write_record(value.as_record(), path, depth + 1);
      break;
    }
  }

  void write_record(const Record& record, const PathStep* path, std::size_t depth) {
    if (too_deep(depth, path, "{...}"))
      return;
    out_ += '{';
    for (const auto& [key, value] : record) {
      if (out_.back() != '{')
        out_ += ',';
      write_string(key, path, " a record with a key");
      out_ += ':';
      const PathStep step{path, key, std::string_view::npos};
      write(value, &step, depth);
    }
    out_ += '}';
  }

  std::string take() { return std::move(out_); }

private:
  void write_list(const List& list, const PathStep* path, std::size_t depth) {
    if (too_deep(depth, path, "[...]"))
      return;
    out_ += '[';
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i > 0)
        out_ += ',';
      const PathStep step{path, {}, i};
      write(list[i], &step, depth);
    }
    out_ += ']';
  }

  bool too_deep(std::size_t depth, const PathStep* path, std::string_view placeholder) {
    if (depth <= max_serialized_depth)
      return false;
    if (!lenient_)
      throw JsonError(subject(path) + " nested deeper than " +
                      std::to_string(max_serialized_depth) + " levels");
    out_ += placeholder;
    return true;
  }

  template <class Number>
  void append_number(Number x) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
    out_.append(buffer, result.ptr);
  }

  void write_double(double x, const PathStep* path) {
    if (std::isfinite(x)) {
      const std::size_t start = out_.size();
      append_number(x);
      if (out_.find_first_of(".e", start) == std::string::npos)
        out_ += ".0";
    } else if (lenient_) {
      out_ += std::isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
    } else {
      throw JsonError(subject(path) + " " + (std::isnan(x) ? "NaN" : "infinite") +
                      ", which JSON cannot represent");
    }
  }

  // `what` completes "field 'x' is" in the UTF-8 error: a string value, or
  // for a key the record it belongs to, since the key has no path of its own.
  void write_string(std::string_view s, const PathStep* path, std::string_view what = " a string") {
    out_ += '"';
    for (std::size_t i = 0; i < s.size();) {
      const char c = s[i];
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x80) {
        const std::size_t length = utf8_sequence_length(s, i);
        if (length > 0) {
          out_.append(s.substr(i, length));
          i += length;
          continue;
        }
        if (!lenient_)
          throw JsonError(subject(path) + std::string(what) + " that is not valid UTF-8 (byte " +
                          std::to_string(i) + ")");
        out_ += "\\ufffd";
      } else if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (c == '\n') {
        out_ += "\\n";
      } else if (c == '\t') {
        out_ += "\\t";
      } else if (c == '\r') {
        out_ += "\\r";
      } else if (byte < 0x20) {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(byte));
        out_ += escape;
      } else {
        out_ += c;
      }
      ++i;
    }
    out_ += '"';
  }

  bool lenient_;
  std::string out_;
};

// The handler of boost::json::parser (a value_stack fed by basic_parser),
// except that a double is read again from its text with std::from_chars,
// which rounds correctly: Boost.JSON 1.81 reads some numbers one unit in the
// last place off (-9.223372722720369e+23 as -9.223372722720368e+23), so the
// shortest round-trip text to_json writes would read back as another double.
// Text beyond a double's range keeps Boost's value (an infinity, which
// from_boost refuses, or zero).
class PreciseDocumentBuilder {
public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  using error_code = boost::json::error_code;
  using string_view = boost::json::string_view;

  explicit PreciseDocumentBuilder(boost::json::storage_ptr storage) {
    stack_.reset(std::move(storage));
  }

  boost::json::value release() { return stack_.release(); }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t size, error_code&) {
    stack_.push_object(size);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t size, error_code&) {
    stack_.push_array(size);
    return true;
  }
  bool on_key_part(string_view part, std::size_t, error_code&) {
    stack_.push_chars(part);
    return true;
  }
  bool on_key(string_view last_part, std::size_t, error_code&) {
    stack_.push_key(last_part);
    return true;
  }
  bool on_string_part(string_view part, std::size_t, error_code&) {
    stack_.push_chars(part);
    return true;
  }
  bool on_string(string_view last_part, std::size_t, error_code&) {
    stack_.push_string(last_part);
    return true;
  }
  bool on_number_part(string_view part, error_code&) {
    number_.append(part.data(), part.size());
    return true;
  }
  bool on_int64(std::int64_t x, string_view, error_code&) {
    number_.clear();
    stack_.push_int64(x);
    return true;
  }
  bool on_uint64(std::uint64_t x, string_view, error_code&) {
    number_.clear();
    stack_.push_uint64(x);
    return true;
  }
  bool on_double(double boost_value, string_view last_part, error_code&) {
    number_.append(last_part.data(), last_part.size());
    double precise = 0;
    const char* end = number_.data() + number_.size();
    const auto [stop, error] = std::from_chars(number_.data(), end, precise);
    stack_.push_double(error == std::errc{} && stop == end ? precise : boost_value);
    number_.clear();
    return true;
  }
  bool on_bool(bool x, error_code&) {
    stack_.push_bool(x);
    return true;
  }
  bool on_null(error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

private:
  boost::json::value_stack stack_;
  std::string number_; // the text of a number that arrived in parts
};

[[noreturn]] void throw_too_deep_document() {
  throw JsonError("JSON document nested deeper than " + std::to_string(max_serialized_depth) +
                  " levels");
}

// `from_text`: the document was parsed from JSON text, where Boost.JSON reads
// a number beyond a double's range (1e400) as infinity; JSON cannot hold
// infinities, so such text is refused instead of read as a value that
// to_json would then refuse to write.
Value from_boost(const boost::json::value& json, std::size_t depth, bool from_text,
                 const PathStep* path) {
  switch (json.kind()) {
  case boost::json::kind::null:
    return {};
  case boost::json::kind::bool_:
    return json.get_bool();
  case boost::json::kind::int64:
    return json.get_int64();
  case boost::json::kind::uint64: {
    // Boost.JSON uses uint64 only above INT64_MAX.
    const std::uint64_t x = json.get_uint64();
    if (x <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return static_cast<std::int64_t>(x);
    return static_cast<double>(x);
  }
  case boost::json::kind::double_:
    if (from_text && !std::isfinite(json.get_double()))
      throw JsonError("invalid JSON: " + subject(path) +
                      " a number outside the range of a double (allowed: magnitudes up to " +
                      "1.7976931348623157e+308)");
    return json.get_double();
  case boost::json::kind::string:
    return std::string_view(json.get_string());
  case boost::json::kind::array: {
    if (depth + 1 > max_serialized_depth)
      throw_too_deep_document();
    List list;
    list.reserve(json.get_array().size());
    const auto& array = json.get_array();
    for (std::size_t i = 0; i < array.size(); ++i) {
      const PathStep step{path, {}, i};
      list.push_back(from_boost(array[i], depth + 1, from_text, &step));
    }
    return list;
  }
  case boost::json::kind::object: {
    if (depth + 1 > max_serialized_depth)
      throw_too_deep_document();
    std::vector<Record::Entry> entries;
    entries.reserve(json.get_object().size());
    for (const auto& entry : json.get_object()) {
      const PathStep step{path, entry.key(), std::string_view::npos};
      entries.emplace_back(std::string(entry.key()),
                           from_boost(entry.value(), depth + 1, from_text, &step));
    }
    return Record(std::move(entries));
  }
  }
  return {};
}

boost::json::value to_boost(const Value& value, std::size_t depth) {
  switch (value.kind()) {
  case ValueKind::null:
    return nullptr;
  case ValueKind::boolean:
    return value.as_bool();
  case ValueKind::integer:
    return value.as_integer();
  case ValueKind::number:
    return value.as_number();
  case ValueKind::string:
    return boost::json::string(value.as_string());
  case ValueKind::list: {
    if (depth + 1 > max_serialized_depth)
      throw_too_deep_document();
    boost::json::array array;
    array.reserve(value.as_list().size());
    for (const Value& item : value.as_list())
      array.push_back(to_boost(item, depth + 1));
    return array;
  }
  case ValueKind::record: {
    if (depth + 1 > max_serialized_depth)
      throw_too_deep_document();
    boost::json::object object;
    object.reserve(value.as_record().size());
    for (const auto& [key, item] : value.as_record())
      object.emplace(key, to_boost(item, depth + 1));
    return object;
  }
  }
  return nullptr;
}

} // namespace

std::string to_json(const Value& value) {
  Writer writer(false);
  writer.write(value, nullptr, 0);
  return writer.take();
}

std::string to_json(const Record& record) {
  Writer writer(false);
  writer.write_record(record, nullptr, 1);
  return writer.take();
}

std::string to_string(const Value& value) {
  Writer writer(true);
  writer.write(value, nullptr, 0);
  return writer.take();
}

std::string to_string(const Record& record) {
  Writer writer(true);
  writer.write_record(record, nullptr, 1);
  return writer.take();
}

std::ostream& operator<<(std::ostream& out, const Value& value) { return out << to_string(value); }

std::ostream& operator<<(std::ostream& out, const Record& record) {
  return out << to_string(record);
}

Value value_from_json(std::string_view text) {
  // The document lives only until it is converted: a monotonic arena makes
  // its allocations nearly free.
  boost::json::monotonic_resource arena;
  boost::json::parse_options options;
  options.max_depth = max_serialized_depth;
  boost::json::basic_parser<PreciseDocumentBuilder> parser(options, &arena);
  boost::system::error_code error;
  const std::size_t consumed = parser.write_some(false, text.data(), text.size(), error);
  if (!error && consumed < text.size())
    error = boost::json::error::extra_data;
  if (error == boost::json::error::too_deep)
    throw JsonError("invalid JSON at offset " + std::to_string(consumed) + ": nested deeper than " +
                    std::to_string(max_serialized_depth) + " levels");
  if (error)
    throw JsonError("invalid JSON at offset " + std::to_string(consumed) + ": " + error.message());
  return from_boost(parser.handler().release(), 0, true, nullptr);
}

Record record_from_json(std::string_view text) {
  Value value = value_from_json(text);
  if (!value.is_record())
    throw JsonError("expected a JSON object, got " + std::string(describe(value.kind())));
  return value.as_record();
}

boost::json::value to_boost_json(const Value& value) { return to_boost(value, 0); }

Value value_from_boost_json(const boost::json::value& json) {
  return from_boost(json, 0, false, nullptr);
}

} // namespace ember
