// Streaming GGUF v3 writer for files too large to hold in memory (`baleen gen-random` writes
// ~10 GB models on machines with less RAM than that). Usage:
//   1. metadata setters (inherited from GgufMetadataWriter) and declare_tensor() for every tensor;
//   2. open(path): writes the header (metadata and tensor infos) and fixes the layout;
//   3. write_tensor() once per tensor, in declaration order: its bytes go straight to the file,
//      padded to the alignment, so memory holds at most the caller's one tensor;
//   4. finish(): checks every tensor was written and closes the file.
// The bytes written are identical to GgufWriter's for the same metadata and tensors (both use
// gguf_layout()). Any error leaves the writer failed; the partial file is removed. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/gguf_writer.h"

namespace baleen {

class GgufStreamWriter : public GgufMetadataWriter {
 public:
  GgufStreamWriter() = default;
  ~GgufStreamWriter();
  GgufStreamWriter(const GgufStreamWriter&) = delete;
  GgufStreamWriter& operator=(const GgufStreamWriter&) = delete;

  // Declares the next tensor (ne in ggml order). Errors (kInvalidArgument): duplicate or invalid
  // name/shape (as GgufWriter::add_tensor); kInvalidArgument after open().
  Status declare_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne);

  // The layout the declared metadata and tensors give (header bytes, offsets, total file size);
  // usable without writing anything (e.g. a dry run).
  Result<GgufLayout> layout() const { return gguf_layout(kv_, decls_); }

  // Creates `path` and writes the header. Errors: kIo, kInvalidArgument (malformed metadata),
  // kInvalidArgument when called twice.
  Status open(const std::string& path);

  // Writes the data of the next tensor, which must be `name` and exactly its declared byte count.
  // Errors: kInvalidArgument (not open, all tensors written, or `name` is not the next
  // declared tensor), kInvalidArgument (byte count), kIo.
  Status write_tensor(const std::string& name, const void* data, uint64_t n_bytes);

  // Closes the file after the last tensor. Errors: kInvalidArgument (not open, or tensors
  // missing: the partial file is removed), kIo.
  Status finish();

  const std::vector<GgufTensorDecl>& tensors() const { return decls_; }
  size_t n_tensors() const { return decls_.size(); }
  size_t n_written() const { return next_; }

 private:
  Status fail(Status s);  // closes and removes the partial file, returns s
  Status write_bytes(const void* p, uint64_t n);

  std::vector<GgufTensorDecl> decls_;
  GgufLayout layout_;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool opened_ = false;
  size_t next_ = 0;        // index of the next tensor to write
  uint64_t data_pos_ = 0;  // bytes of the data section written so far
};

}  // namespace baleen
