// Token files opened by read_tokens sources, so that a saved state can name a slice of
// one by position (file, byte offset) instead of copying its tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seqkit/element.h"
#include "seqkit/line_reader.h"

namespace seqkit {

// Called by read_tokens for its mapped tokens.bin; the registry holds it weakly.
void register_token_file(const std::string& path, const std::shared_ptr<MappedFile>& file);

struct TokenSlice {
  std::string path;  // canonical (symlinks and relative parts resolved)
  std::int64_t file_size = 0;
  std::int64_t byte_offset = 0;
  std::uint64_t checksum = 0;  // of the slice's bytes, so a rewritten file is caught on load
};

// FNV-1a (64 bit) of `n` bytes: cheap, and enough to tell a rewritten slice from the saved one.
std::uint64_t slice_checksum(const void* data, std::size_t n);

// Where `a` lies, if it views a registered token file (not a list, not a copy).
std::optional<TokenSlice> find_token_slice(const Array& a);

// A view of the token file `where` names (one some live read_tokens source has mapped) at
// its byte offset with `dtype` and `shape`. The file is found by path, else, for a dataset
// that moved (a resume on another machine), as the only open token file of that size.
// Throws StateError when there is no such file, the file at the saved path has another
// size, the slice does not fit in it, or its bytes no longer match the saved checksum.
Array token_slice(const TokenSlice& where, DType dtype, std::vector<std::int64_t> shape);

}  // namespace seqkit
