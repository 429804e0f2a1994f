#include "io/safetensors_writer.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/mapped_file.h"
#include "core/utf8.h"
#include "tensor/numeric.h"

namespace baleen {

using json = nlohmann::json;

Status SafetensorsWriter::add(const std::string& name, SafetensorsDtype dtype, const std::vector<int64_t>& shape,
                              std::string_view bytes) {
  if (name.empty() || name == "__metadata__" || !utf8::is_valid(name)) {
    return make_error(ErrorCode::kInvalidArgument, "invalid tensor name '%s'", name.c_str());
  }
  for (const Entry& e : tensors_) {
    if (e.name == name) return make_error(ErrorCode::kInvalidArgument, "duplicate tensor name '%s'", name.c_str());
  }
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || !checked_mul(n, static_cast<uint64_t>(d), &n)) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '%s': invalid shape", name.c_str());
    }
  }
  uint64_t n_bytes = 0;
  if (!checked_mul(n, safetensors_dtype_size(dtype), &n_bytes) || n_bytes != bytes.size()) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s': %zu bytes given, shape x %s size needs %llu",
                      name.c_str(), bytes.size(), safetensors_dtype_name(dtype),
                      static_cast<unsigned long long>(n_bytes));
  }
  Entry e{name, dtype, shape, data_.size(), data_.size() + bytes.size()};
  data_.append(bytes);
  tensors_.push_back(std::move(e));
  return ok_status();
}

Status SafetensorsWriter::add_f32(const std::string& name, SafetensorsDtype dtype, const std::vector<int64_t>& shape,
                                  const std::vector<float>& values) {
  std::string bytes;
  switch (dtype) {
    case SafetensorsDtype::kF32:
      bytes.resize(values.size() * 4);
      if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case SafetensorsDtype::kF16:
    case SafetensorsDtype::kBF16:
      bytes.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t h = dtype == SafetensorsDtype::kF16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      break;
    case SafetensorsDtype::kF8E4M3:
      bytes.resize(values.size());
      for (size_t i = 0; i < values.size(); ++i) bytes[i] = static_cast<char>(f32_to_e4m3(values[i]));
      break;
    default:
      return make_error(ErrorCode::kInvalidArgument, "tensor '%s': add_f32 cannot store %s", name.c_str(),
                        safetensors_dtype_name(dtype));
  }
  return add(name, dtype, shape, bytes);
}

std::string SafetensorsWriter::serialize() const {
  // nlohmann's object is ordered by key; the data stays in insertion order via the offsets.
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  for (const Entry& e : tensors_) {
    header[e.name] = {
        {"dtype", safetensors_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + h.size() + data_.size());
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out += h;
  out += data_;
  return out;
}

Status SafetensorsWriter::write(const std::string& path) const { return write_file(path, serialize()); }

Status write_safetensors_index(const std::string& path, const std::map<std::string, std::string>& weight_map,
                               uint64_t total_size) {
  json j = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
  return write_file(path, j.dump(2) + "\n");
}

}  // namespace baleen
