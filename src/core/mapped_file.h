// Read-only memory mapping of a whole file. Model readers (GGUF, safetensors) keep a MappedFile
// alive and hand out zero-copy views into it. Move-only; unmaps on destruction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace baleen {

class MappedFile {
 public:
  // Maps `path` read-only. An empty file maps to a valid object with size() == 0.
  static Result<MappedFile> open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), static_cast<size_t>(size_)}; }

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

// Reads a whole (small) file into a string, e.g. config.json.
Result<std::string> read_file(const std::string& path);
// Writes `data` to `path` (truncating). Used by writers and tests.
Status write_file(const std::string& path, std::string_view data);

}  // namespace baleen
