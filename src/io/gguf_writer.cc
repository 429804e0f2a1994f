// GGUF v3 serialisation (layout as described at the top of io/gguf.cc), little-endian host.
#include "io/gguf_writer.h"

#include <bit>
#include <cstring>

#include "core/checked.h"
#include "core/mapped_file.h"

namespace baleen {
namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxTensorNameLength = 64;
constexpr uint32_t kMaxDims = 4;

template <typename T>
void put(std::string& out, T v) {
  static_assert(std::endian::native == std::endian::little, "GGUF writer assumes a little-endian host");
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

Status put_value(std::string& out, const GgufValue& v, const std::string& key) {
  switch (v.type) {
    case GgufType::kUint8:
      put<uint8_t>(out, static_cast<uint8_t>(v.u));
      break;
    case GgufType::kInt8:
      put<int8_t>(out, static_cast<int8_t>(v.i));
      break;
    case GgufType::kUint16:
      put<uint16_t>(out, static_cast<uint16_t>(v.u));
      break;
    case GgufType::kInt16:
      put<int16_t>(out, static_cast<int16_t>(v.i));
      break;
    case GgufType::kUint32:
      put<uint32_t>(out, static_cast<uint32_t>(v.u));
      break;
    case GgufType::kInt32:
      put<int32_t>(out, static_cast<int32_t>(v.i));
      break;
    case GgufType::kUint64:
      put<uint64_t>(out, v.u);
      break;
    case GgufType::kInt64:
      put<int64_t>(out, v.i);
      break;
    case GgufType::kFloat32:
      put<float>(out, static_cast<float>(v.f));
      break;
    case GgufType::kFloat64:
      put<double>(out, v.f);
      break;
    case GgufType::kBool:
      put<uint8_t>(out, v.u != 0 ? 1 : 0);
      break;
    case GgufType::kString:
      put_string(out, v.s);
      break;
    case GgufType::kArray: {
      if (!v.arr)
        return make_error(ErrorCode::kInvalidArgument, "metadata key '%s': array value without items", key.c_str());
      put<uint32_t>(out, static_cast<uint32_t>(v.arr->elem_type));
      put<uint64_t>(out, v.arr->items.size());
      for (const GgufValue& item : v.arr->items) {
        if (item.type != v.arr->elem_type) {
          return make_error(ErrorCode::kInvalidArgument, "metadata key '%s': array of %s holds a %s item", key.c_str(),
                            gguf_type_name(v.arr->elem_type), gguf_type_name(item.type));
        }
        BALEEN_TRY(put_value(out, item, key));
      }
      break;
    }
  }
  return ok_status();
}

}  // namespace

GgufValue gguf_u8(uint8_t v) {
  GgufValue g;
  g.type = GgufType::kUint8;
  g.u = v;
  return g;
}
GgufValue gguf_i8(int8_t v) {
  GgufValue g;
  g.type = GgufType::kInt8;
  g.i = v;
  return g;
}
GgufValue gguf_u16(uint16_t v) {
  GgufValue g;
  g.type = GgufType::kUint16;
  g.u = v;
  return g;
}
GgufValue gguf_i16(int16_t v) {
  GgufValue g;
  g.type = GgufType::kInt16;
  g.i = v;
  return g;
}
GgufValue gguf_u32(uint32_t v) {
  GgufValue g;
  g.type = GgufType::kUint32;
  g.u = v;
  return g;
}
GgufValue gguf_i32(int32_t v) {
  GgufValue g;
  g.type = GgufType::kInt32;
  g.i = v;
  return g;
}
GgufValue gguf_u64(uint64_t v) {
  GgufValue g;
  g.type = GgufType::kUint64;
  g.u = v;
  return g;
}
GgufValue gguf_i64(int64_t v) {
  GgufValue g;
  g.type = GgufType::kInt64;
  g.i = v;
  return g;
}
GgufValue gguf_f32(float v) {
  GgufValue g;
  g.type = GgufType::kFloat32;
  g.f = v;
  return g;
}
GgufValue gguf_f64(double v) {
  GgufValue g;
  g.type = GgufType::kFloat64;
  g.f = v;
  return g;
}
GgufValue gguf_bool(bool v) {
  GgufValue g;
  g.type = GgufType::kBool;
  g.u = v ? 1 : 0;
  return g;
}
GgufValue gguf_string(std::string v) {
  GgufValue g;
  g.type = GgufType::kString;
  g.s = std::move(v);
  return g;
}
GgufValue gguf_array(GgufType elem_type, std::vector<GgufValue> items) {
  GgufValue g;
  g.type = GgufType::kArray;
  g.arr = std::make_shared<GgufArray>();
  g.arr->elem_type = elem_type;
  g.arr->items = std::move(items);
  return g;
}

void GgufWriter::set_value(const std::string& key, GgufValue v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_u8(const std::string& key, uint8_t v) { set_value(key, gguf_u8(v)); }
void GgufWriter::set_i8(const std::string& key, int8_t v) { set_value(key, gguf_i8(v)); }
void GgufWriter::set_u16(const std::string& key, uint16_t v) { set_value(key, gguf_u16(v)); }
void GgufWriter::set_i16(const std::string& key, int16_t v) { set_value(key, gguf_i16(v)); }
void GgufWriter::set_u32(const std::string& key, uint32_t v) { set_value(key, gguf_u32(v)); }
void GgufWriter::set_i32(const std::string& key, int32_t v) { set_value(key, gguf_i32(v)); }
void GgufWriter::set_u64(const std::string& key, uint64_t v) { set_value(key, gguf_u64(v)); }
void GgufWriter::set_i64(const std::string& key, int64_t v) { set_value(key, gguf_i64(v)); }
void GgufWriter::set_f32(const std::string& key, float v) { set_value(key, gguf_f32(v)); }
void GgufWriter::set_f64(const std::string& key, double v) { set_value(key, gguf_f64(v)); }
void GgufWriter::set_bool(const std::string& key, bool v) { set_value(key, gguf_bool(v)); }
void GgufWriter::set_string(const std::string& key, std::string v) { set_value(key, gguf_string(std::move(v))); }
void GgufWriter::set_array(const std::string& key, GgufArray v) {
  set_value(key, gguf_array(v.elem_type, std::move(v.items)));
}
void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const std::string& s : v) items.push_back(gguf_string(s));
  set_value(key, gguf_array(GgufType::kString, std::move(items)));
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne,
                              std::string_view bytes) {
  return add_tensor(name, type, std::move(ne), bytes.data(), bytes.size());
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                              uint64_t n_bytes) {
  if (name.size() > kMaxTensorNameLength) {
    return make_error(ErrorCode::kInvalidArgument, "tensor name '%s' is longer than %llu bytes", name.c_str(),
                      static_cast<unsigned long long>(kMaxTensorNameLength));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) return make_error(ErrorCode::kInvalidArgument, "duplicate tensor name '%s'", name.c_str());
  }
  if (ne.size() > kMaxDims) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s': %zu dims (at most %u)", name.c_str(), ne.size(),
                      kMaxDims);
  }
  const GgmlTypeInfo& info = ggml_type_info(type);
  uint64_t n_elements = 1;
  for (uint64_t d : ne) {
    if (!checked_mul(n_elements, d, &n_elements)) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '%s': element count overflows", name.c_str());
    }
  }
  uint64_t ne0 = ne.empty() ? 1 : ne[0];
  if (ne0 % info.block_size != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor '%s': ne[0] = %llu is not a multiple of the %s block size %u", name.c_str(),
                      static_cast<unsigned long long>(ne0), std::string(info.name).c_str(), info.block_size);
  }
  uint64_t expect = n_elements / info.block_size * info.type_size;
  if (expect != n_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s': %llu bytes given, its shape and type need %llu",
                      name.c_str(), static_cast<unsigned long long>(n_bytes), static_cast<unsigned long long>(expect));
  }
  tensors_.push_back(Tensor{name, type, std::move(ne), std::string(static_cast<const char*>(data), n_bytes)});
  return ok_status();
}

Result<std::string> GgufWriter::serialize() const {
  uint64_t alignment = kDefaultAlignment;
  for (const auto& kv : kv_) {
    if (kv.first != "general.alignment") continue;
    if (kv.second.type != GgufType::kUint32 || kv.second.u == 0 || (kv.second.u & (kv.second.u - 1)) != 0) {
      return make_error(ErrorCode::kInvalidArgument, "general.alignment must be a u32 nonzero power of two");
    }
    alignment = kv.second.u;
  }
  std::string out;
  out.append("GGUF", 4);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, value] : kv_) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(value.type));
    BALEEN_TRY(put_value(out, value, key));
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const Tensor& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offsets.push_back(offset);
    BALEEN_ASSERT(checked_align_up(offset + t.bytes.size(), alignment, &offset), "tensor offsets overflow");
  }
  uint64_t data_start = 0;
  BALEEN_ASSERT(checked_align_up(out.size(), alignment, &data_start), "data offset overflows");
  out.resize(data_start, '\0');
  for (size_t k = 0; k < tensors_.size(); ++k) {
    out.resize(data_start + offsets[k], '\0');
    out.append(tensors_[k].bytes);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  BALEEN_ASSIGN_OR_RETURN(std::string bytes, serialize());
  return write_file(path, bytes);
}

}  // namespace baleen
