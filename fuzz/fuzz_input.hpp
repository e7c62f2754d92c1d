// Reads a fuzz input as a sequence of small decisions. Each read consumes
// bytes from the front; an exhausted input answers 0, false and "", so every
// input, however short, decodes to something.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::fuzz {

class FuzzInput {
public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return bytes_.empty(); }

  std::uint8_t byte() {
    if (bytes_.empty())
      return 0;
    const auto value = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return value;
  }

  bool flag() { return (byte() & 1U) != 0; }

  /// A number in [0, bound); bound must be at most 256.
  std::size_t below(std::size_t bound) { return bound == 0 ? 0 : byte() % bound; }

  /// Up to `max_length` bytes, the length taken from the input first.
  std::string text(std::size_t max_length) {
    const std::size_t length = std::min<std::size_t>(below(max_length + 1), bytes_.size());
    std::string out(bytes_.substr(0, length));
    bytes_.remove_prefix(length);
    return out;
  }

  /// Eight bytes as a double: any bit pattern, NaNs and infinities included.
  double any_double() { return std::bit_cast<double>(static_cast<std::uint64_t>(any_integer())); }

  /// Eight bytes as an integer, the full range included.
  std::int64_t any_integer() {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits = (bits << 8U) | byte();
    return static_cast<std::int64_t>(bits);
  }

private:
  std::string_view bytes_;
};

} // namespace ember::fuzz
