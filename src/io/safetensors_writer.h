// safetensors writer: collects tensors in memory and writes one file in the format the reader
// (io/safetensors.h) accepts: 8-byte LE header length, JSON header padded with spaces to a multiple
// of 8, tensors back to back in insertion order. Also writes model.safetensors.index.json for
// sharded folders. Used by tests and by `baleen convert`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"

namespace baleen {

class SafetensorsWriter {
 public:
  // Header "__metadata__" entry (string -> string).
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  // Adds a tensor from raw little-endian bytes. Errors (kInvalidArgument): empty or duplicate name,
  // the name "__metadata__", a negative dimension, name not valid UTF-8, or bytes.size() != product(shape)
  // x dtype size.
  Status add(const std::string& name, SafetensorsDtype dtype, const std::vector<int64_t>& shape,
             std::string_view bytes);
  // Convenience: stores `values` converted to F32, F16, BF16 (round to nearest even) or F8_E4M3
  // (round to nearest even, saturating); other dtypes give kInvalidArgument.
  Status add_f32(const std::string& name, SafetensorsDtype dtype, const std::vector<int64_t>& shape,
                 const std::vector<float>& values);

  size_t size() const { return tensors_.size(); }
  // Total bytes of tensor data so far.
  uint64_t data_bytes() const { return data_.size(); }
  // The whole file.
  std::string serialize() const;
  // serialize() written to `path`.
  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Entry> tensors_;
  std::map<std::string, std::string> metadata_;
  std::string data_;
};

// Writes a model.safetensors.index.json: {"metadata": {"total_size": N}, "weight_map": {tensor: shard}}.
Status write_safetensors_index(const std::string& path, const std::map<std::string, std::string>& weight_map,
                               uint64_t total_size);

}  // namespace baleen
