// Memory-mapped reading of text files as lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace seqkit {

// A private (copy-on-write) memory map of a whole file. Movable, not copyable.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view view() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// Splits a buffer into lines on '\n', dropping a trailing '\r' ("\r\n" files).
// A final line without a newline is still a line; an empty buffer has no lines.
std::vector<std::string_view> split_lines(std::string_view text);

// Number of lines split_lines() would return, without materializing them.
std::size_t count_lines(std::string_view text) noexcept;

}  // namespace seqkit
