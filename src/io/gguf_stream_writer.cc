#include "io/gguf_stream_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace baleen {

GgufStreamWriter::~GgufStreamWriter() {
  if (file_ != nullptr) (void)fail(ok_status());  // never finished: do not leave a partial file
}

Status GgufStreamWriter::fail(Status s) {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  next_ = decls_.size();  // nothing more can be written
  return s;
}

Status GgufStreamWriter::declare_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne) {
  if (opened_) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s' declared after the header was written", name.c_str());
  }
  for (const GgufTensorDecl& t : decls_) {
    if (t.name == name) return make_error(ErrorCode::kInvalidArgument, "duplicate tensor name '%s'", name.c_str());
  }
  BALEEN_ASSIGN_OR_RETURN(uint64_t n_bytes, gguf_tensor_bytes(name, type, ne));
  decls_.push_back(GgufTensorDecl{name, type, std::move(ne), n_bytes});
  return ok_status();
}

Status GgufStreamWriter::write_bytes(const void* p, uint64_t n) {
  if (n != 0 && std::fwrite(p, 1, n, file_) != n) {
    int err = errno;
    return fail(make_error(ErrorCode::kIo, "writing %s: %s", path_.c_str(), std::strerror(err)));
  }
  return ok_status();
}

Status GgufStreamWriter::open(const std::string& path) {
  if (opened_) return make_error(ErrorCode::kInvalidArgument, "GGUF stream writer opened twice");
  BALEEN_ASSIGN_OR_RETURN(layout_, gguf_layout(kv_, decls_));
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    int err = errno;
    return make_error(ErrorCode::kIo, "cannot open %s for writing: %s", path.c_str(), std::strerror(err));
  }
  path_ = path;
  opened_ = true;
  next_ = 0;
  data_pos_ = 0;
  BALEEN_TRY(write_bytes(layout_.header.data(), layout_.header.size()));
  layout_.header = std::string();  // may be large (a vocabulary); no longer needed
  return ok_status();
}

Status GgufStreamWriter::write_tensor(const std::string& name, const void* data, uint64_t n_bytes) {
  if (file_ == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s': the GGUF stream writer is not open", name.c_str());
  }
  if (next_ >= decls_.size()) {
    return fail(make_error(ErrorCode::kInvalidArgument, "tensor '%s': all %zu declared tensors are already written",
                           name.c_str(), decls_.size()));
  }
  const GgufTensorDecl& t = decls_[next_];
  if (t.name != name) {
    return fail(make_error(ErrorCode::kInvalidArgument, "tensor '%s' written out of order: '%s' (#%zu) comes next",
                           name.c_str(), t.name.c_str(), next_));
  }
  if (t.n_bytes != n_bytes) {
    return fail(make_error(ErrorCode::kInvalidArgument, "tensor '%s': %llu bytes given, its shape and type need %llu",
                           name.c_str(), static_cast<unsigned long long>(n_bytes),
                           static_cast<unsigned long long>(t.n_bytes)));
  }
  static constexpr char kZeros[256] = {};
  uint64_t pad = layout_.offsets[next_] - data_pos_;  // < alignment
  while (pad > 0) {
    uint64_t n = pad < sizeof(kZeros) ? pad : sizeof(kZeros);
    BALEEN_TRY(write_bytes(kZeros, n));
    pad -= n;
  }
  BALEEN_TRY(write_bytes(data, n_bytes));
  data_pos_ = layout_.offsets[next_] + n_bytes;
  ++next_;
  return ok_status();
}

Status GgufStreamWriter::finish() {
  if (file_ == nullptr) return make_error(ErrorCode::kInvalidArgument, "the GGUF stream writer is not open");
  if (next_ != decls_.size()) {
    return fail(make_error(ErrorCode::kInvalidArgument, "finish() after %zu of %zu tensors; '%s' is missing", next_,
                           decls_.size(), decls_[next_].name.c_str()));
  }
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) {
    int err = errno;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    return make_error(ErrorCode::kIo, "closing %s: %s", path_.c_str(), std::strerror(err));
  }
  return ok_status();
}

}  // namespace baleen
