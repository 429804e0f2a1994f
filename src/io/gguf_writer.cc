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

void GgufMetadataWriter::set_value(const std::string& key, GgufValue v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufMetadataWriter::set_u8(const std::string& key, uint8_t v) { set_value(key, gguf_u8(v)); }
void GgufMetadataWriter::set_i8(const std::string& key, int8_t v) { set_value(key, gguf_i8(v)); }
void GgufMetadataWriter::set_u16(const std::string& key, uint16_t v) { set_value(key, gguf_u16(v)); }
void GgufMetadataWriter::set_i16(const std::string& key, int16_t v) { set_value(key, gguf_i16(v)); }
void GgufMetadataWriter::set_u32(const std::string& key, uint32_t v) { set_value(key, gguf_u32(v)); }
void GgufMetadataWriter::set_i32(const std::string& key, int32_t v) { set_value(key, gguf_i32(v)); }
void GgufMetadataWriter::set_u64(const std::string& key, uint64_t v) { set_value(key, gguf_u64(v)); }
void GgufMetadataWriter::set_i64(const std::string& key, int64_t v) { set_value(key, gguf_i64(v)); }
void GgufMetadataWriter::set_f32(const std::string& key, float v) { set_value(key, gguf_f32(v)); }
void GgufMetadataWriter::set_f64(const std::string& key, double v) { set_value(key, gguf_f64(v)); }
void GgufMetadataWriter::set_bool(const std::string& key, bool v) { set_value(key, gguf_bool(v)); }
void GgufMetadataWriter::set_string(const std::string& key, std::string v) {
  set_value(key, gguf_string(std::move(v)));
}
void GgufMetadataWriter::set_array(const std::string& key, GgufArray v) {
  set_value(key, gguf_array(v.elem_type, std::move(v.items)));
}
void GgufMetadataWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const std::string& s : v) items.push_back(gguf_string(s));
  set_value(key, gguf_array(GgufType::kString, std::move(items)));
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne,
                              std::string_view bytes) {
  return add_tensor(name, type, std::move(ne), bytes.data(), bytes.size());
}

Result<uint64_t> gguf_tensor_bytes(const std::string& name, GgmlType type, const std::vector<uint64_t>& ne) {
  if (name.size() > kMaxTensorNameLength) {
    return make_error(ErrorCode::kInvalidArgument, "tensor name '%s' is longer than %llu bytes", name.c_str(),
                      static_cast<unsigned long long>(kMaxTensorNameLength));
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
  return n_elements / info.block_size * info.type_size;
}

Result<GgufLayout> gguf_layout(const std::vector<std::pair<std::string, GgufValue>>& kv,
                               const std::vector<GgufTensorDecl>& tensors) {
  GgufLayout lay;
  lay.alignment = kDefaultAlignment;
  for (const auto& [key, value] : kv) {
    if (key != "general.alignment") continue;
    if (value.type != GgufType::kUint32 || value.u == 0 || (value.u & (value.u - 1)) != 0) {
      return make_error(ErrorCode::kInvalidArgument, "general.alignment must be a u32 nonzero power of two");
    }
    lay.alignment = value.u;
  }
  std::string& out = lay.header;
  out.append("GGUF", 4);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, kv.size());
  for (const auto& [key, value] : kv) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(value.type));
    BALEEN_TRY(put_value(out, value, key));
  }
  uint64_t offset = 0;
  for (const GgufTensorDecl& t : tensors) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    lay.offsets.push_back(offset);
    lay.data_size = offset + t.n_bytes;
    if (!checked_align_up(lay.data_size, lay.alignment, &offset)) {
      return make_error(ErrorCode::kInvalidArgument, "tensor offsets overflow");
    }
  }
  uint64_t data_start = 0;
  if (!checked_align_up(out.size(), lay.alignment, &data_start)) {
    return make_error(ErrorCode::kInvalidArgument, "data offset overflows");
  }
  out.resize(data_start, '\0');
  return lay;
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                              uint64_t n_bytes) {
  for (const GgufTensorDecl& t : decls_) {
    if (t.name == name) return make_error(ErrorCode::kInvalidArgument, "duplicate tensor name '%s'", name.c_str());
  }
  BALEEN_ASSIGN_OR_RETURN(uint64_t expect, gguf_tensor_bytes(name, type, ne));
  if (expect != n_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '%s': %llu bytes given, its shape and type need %llu",
                      name.c_str(), static_cast<unsigned long long>(n_bytes), static_cast<unsigned long long>(expect));
  }
  decls_.push_back(GgufTensorDecl{name, type, std::move(ne), n_bytes});
  bytes_.emplace_back(static_cast<const char*>(data), n_bytes);
  return ok_status();
}

Result<std::string> GgufWriter::serialize() const {
  BALEEN_ASSIGN_OR_RETURN(GgufLayout lay, gguf_layout(kv_, decls_));
  std::string out = std::move(lay.header);
  const uint64_t data_start = out.size();
  out.reserve(data_start + lay.data_size);
  for (size_t k = 0; k < decls_.size(); ++k) {
    out.resize(data_start + lay.offsets[k], '\0');
    out.append(bytes_[k]);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  BALEEN_ASSIGN_OR_RETURN(std::string bytes, serialize());
  return write_file(path, bytes);
}

}  // namespace baleen
