// The registry of token files mapped by read_tokens sources (see token_files.h).
#include "seqkit/token_files.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>

#include "seqkit/node.h"

namespace seqkit {
namespace {

struct Entry {
  std::string path;
  std::weak_ptr<MappedFile> file;
};

std::mutex g_mutex;
// A handful of entries (one per read_tokens source alive): a vector scan is enough.
std::vector<Entry> g_files;

void prune_locked() {
  g_files.erase(std::remove_if(g_files.begin(), g_files.end(), [](const Entry& e) { return e.file.expired(); }),
                g_files.end());
}

}  // namespace

std::uint64_t slice_checksum(const void* data, std::size_t n) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= bytes[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

void register_token_file(const std::string& path, const std::shared_ptr<MappedFile>& file) {
  std::string resolved = canonical(path);
  std::lock_guard<std::mutex> lock(g_mutex);
  prune_locked();
  g_files.push_back(Entry{std::move(resolved), file});
}

std::optional<TokenSlice> find_token_slice(const Array& a) {
  if (a.as_list || a.owner == nullptr) return std::nullopt;
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const Entry& e : g_files) {
    std::shared_ptr<MappedFile> file = e.file.lock();
    if (file == nullptr || static_cast<const void*>(file.get()) != a.owner.get()) continue;
    const char* base = file->view().data();
    const char* data = static_cast<const char*>(a.data);
    if (data < base || data + a.nbytes() > base + file->size()) return std::nullopt;
    return TokenSlice{e.path, static_cast<std::int64_t>(file->size()), static_cast<std::int64_t>(data - base),
                      slice_checksum(data, a.nbytes())};
  }
  return std::nullopt;
}

Array token_slice(const TokenSlice& where, DType dtype, std::vector<std::int64_t> shape) {
  std::shared_ptr<MappedFile> file;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::shared_ptr<MappedFile> same_size;
    int num_same_size = 0;
    for (const Entry& e : g_files) {
      std::shared_ptr<MappedFile> f = e.file.lock();
      if (f == nullptr) continue;
      if (e.path == where.path) {
        if (static_cast<std::int64_t>(f->size()) != where.file_size) {
          throw StateError("the state refers to tokens in '" + where.path + "' of " +
                           std::to_string(where.file_size) + " bytes, but that file now has " +
                           std::to_string(f->size()) +
                           " bytes: the dataset was rewritten since the state was saved");
        }
        file = f;
        break;
      }
      if (static_cast<std::int64_t>(f->size()) == where.file_size && f != same_size) {
        same_size = f;
        ++num_same_size;
      }
    }
    if (file == nullptr && num_same_size == 1) file = same_size;
  }
  if (file == nullptr) {
    throw StateError("the state refers to tokens in '" + where.path +
                     "', which no read_tokens source of this pipeline has open; load it into a "
                     "pipeline built the same way");
  }
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  for (std::int64_t d : a.shape) {
    if (d < 0) throw StateError("a token slice in the state has a negative dimension");
  }
  std::size_t bytes = a.nbytes();
  if (where.byte_offset < 0 || static_cast<std::size_t>(where.byte_offset) % dtype_size(dtype) != 0 ||
      static_cast<std::size_t>(where.byte_offset) > file->size() ||
      bytes > file->size() - static_cast<std::size_t>(where.byte_offset)) {
    throw StateError("a token slice in the state does not fit in '" + where.path +
                     "'; the file changed since the state was saved");
  }
  a.data = file->view().data() + where.byte_offset;
  if (slice_checksum(a.data, bytes) != where.checksum) {
    throw StateError("the tokens at byte " + std::to_string(where.byte_offset) + " of '" + where.path +
                     "' differ from those the state was saved with: the dataset was rewritten since; "
                     "resume with the dataset the state was saved from");
  }
  a.owner = file;
  return a;
}

}  // namespace seqkit
