// UTF-8 validation and repair for text sources.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace seqkit {

// Byte offset of the first invalid sequence, or npos when `text` is valid UTF-8.
std::size_t first_invalid_utf8(std::string_view text) noexcept;

// Replaces (U+FFFD) or drops every invalid byte.
std::string repair_utf8(std::string_view text, bool replace);

}  // namespace seqkit
