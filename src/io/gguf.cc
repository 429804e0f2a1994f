// GGUF reader. Format facts from ggml docs/gguf.md: little-endian; header = magic "GGUF", u32
// version, u64 tensor_count, u64 kv_count (v2+); KV = string key, u32 value type, value;
// string = u64 length + bytes; array = u32 element type, u64 count, elements; tensor info =
// string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset (relative to the data
// section, multiple of the alignment); the data section starts at the next multiple of the
// alignment (`general.alignment`, u32, default 32) after the tensor infos.
#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/checked.h"
#include "core/utf8.h"

namespace baleen {
namespace {

constexpr uint32_t kMaxArrayDepth = 8;         // nesting levels of arrays inside arrays
constexpr uint64_t kMaxKeyLength = 65535;      // gguf.md: keys are at most 2^16 - 1 bytes
constexpr uint64_t kMaxTensorNameLength = 64;  // gguf.md: tensor names are at most 64 bytes
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims 0, type, offset

using ull = unsigned long long;

// Size in bytes of a scalar metadata value; 0 for string/array.
uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

// Smallest number of bytes one element of type t occupies in the file.
uint64_t min_encoded_size(GgufType t) {
  if (t == GgufType::kString) return 8;
  if (t == GgufType::kArray) return 12;
  return scalar_size(t);
}

bool valid_gguf_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

// Cursor over the mapped bytes. Every read is bounds-checked; errors carry the byte offset.
class Reader {
 public:
  Reader(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void seek(uint64_t pos) { pos_ = pos; }

  Error corrupt(uint64_t at, const char* fmt, ...) const __attribute__((format(printf, 3, 4))) {
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return make_error(ErrorCode::kCorruptFile, "%s (at byte offset %llu)", buf, static_cast<ull>(at));
  }

  Status need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      return corrupt(pos_, "truncated: %s needs %llu bytes, %llu left in the %llu-byte file", what, static_cast<ull>(n),
                     static_cast<ull>(remaining()), static_cast<ull>(size_));
    }
    return ok_status();
  }

  template <typename T>
  Result<T> read(const char* what) {
    BALEEN_TRY(need(sizeof(T), what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // the host is little-endian (checked in parse)
    pos_ += sizeof(T);
    return v;
  }

  // u64 length + bytes; the length is checked against max_len and the bytes left before use.
  Result<std::string> read_string(const char* what, uint64_t max_len) {
    uint64_t at = pos_;
    BALEEN_ASSIGN_OR_RETURN(uint64_t len, read<uint64_t>(what));
    if (len > remaining()) {
      return corrupt(at, "%s: string length %llu exceeds the %llu bytes left in the file", what, static_cast<ull>(len),
                     static_cast<ull>(remaining()));
    }
    if (len > max_len) {
      return corrupt(at, "%s: string length %llu exceeds the limit of %llu", what, static_cast<ull>(len),
                     static_cast<ull>(max_len));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Result<GgufValue> read_value(Reader& r, GgufType type, uint32_t depth, const std::string& key);

Result<GgufArray> read_array(Reader& r, uint32_t depth, const std::string& key) {
  uint64_t at = r.pos();
  BALEEN_ASSIGN_OR_RETURN(uint32_t elem_raw, r.read<uint32_t>("array element type"));
  if (!valid_gguf_type(elem_raw)) {
    return r.corrupt(at, "metadata key '%s': unknown array element type %u", key.c_str(), elem_raw);
  }
  auto elem = static_cast<GgufType>(elem_raw);
  if (elem == GgufType::kArray && depth + 1 >= kMaxArrayDepth) {
    return r.corrupt(at, "metadata key '%s': arrays nested deeper than %u levels", key.c_str(), kMaxArrayDepth);
  }
  uint64_t count_at = r.pos();
  BALEEN_ASSIGN_OR_RETURN(uint64_t count, r.read<uint64_t>("array length"));
  // Bound the count by the bytes left before allocating anything for it.
  if (count > r.remaining() / min_encoded_size(elem)) {
    return r.corrupt(count_at, "metadata key '%s': array of %llu %s elements cannot fit in the %llu bytes left",
                     key.c_str(), static_cast<ull>(count), gguf_type_name(elem), static_cast<ull>(r.remaining()));
  }
  GgufArray arr;
  arr.elem_type = elem;
  arr.items.reserve(static_cast<size_t>(count));
  for (uint64_t k = 0; k < count; ++k) {
    BALEEN_ASSIGN_OR_RETURN(GgufValue v, read_value(r, elem, depth + 1, key));
    arr.items.push_back(std::move(v));
  }
  return arr;
}

Result<GgufValue> read_value(Reader& r, GgufType type, uint32_t depth, const std::string& key) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::kUint8: {
      BALEEN_ASSIGN_OR_RETURN(v.u, r.read<uint8_t>("u8 value"));
      break;
    }
    case GgufType::kInt8: {
      BALEEN_ASSIGN_OR_RETURN(v.i, r.read<int8_t>("i8 value"));
      break;
    }
    case GgufType::kUint16: {
      BALEEN_ASSIGN_OR_RETURN(v.u, r.read<uint16_t>("u16 value"));
      break;
    }
    case GgufType::kInt16: {
      BALEEN_ASSIGN_OR_RETURN(v.i, r.read<int16_t>("i16 value"));
      break;
    }
    case GgufType::kUint32: {
      BALEEN_ASSIGN_OR_RETURN(v.u, r.read<uint32_t>("u32 value"));
      break;
    }
    case GgufType::kInt32: {
      BALEEN_ASSIGN_OR_RETURN(v.i, r.read<int32_t>("i32 value"));
      break;
    }
    case GgufType::kUint64: {
      BALEEN_ASSIGN_OR_RETURN(v.u, r.read<uint64_t>("u64 value"));
      break;
    }
    case GgufType::kInt64: {
      BALEEN_ASSIGN_OR_RETURN(v.i, r.read<int64_t>("i64 value"));
      break;
    }
    case GgufType::kFloat32: {
      BALEEN_ASSIGN_OR_RETURN(float f, r.read<float>("f32 value"));
      v.f = f;
      break;
    }
    case GgufType::kFloat64: {
      BALEEN_ASSIGN_OR_RETURN(v.f, r.read<double>("f64 value"));
      break;
    }
    case GgufType::kBool: {
      uint64_t at = r.pos();
      BALEEN_ASSIGN_OR_RETURN(uint8_t b, r.read<uint8_t>("bool value"));
      if (b > 1) return r.corrupt(at, "metadata key '%s': bool value %u is neither 0 nor 1", key.c_str(), b);
      v.u = b;
      break;
    }
    case GgufType::kString: {
      BALEEN_ASSIGN_OR_RETURN(v.s, r.read_string("string value", std::numeric_limits<uint64_t>::max()));
      break;
    }
    case GgufType::kArray: {
      BALEEN_ASSIGN_OR_RETURN(GgufArray a, read_array(r, depth, key));
      v.arr = std::make_shared<GgufArray>(std::move(a));
      break;
    }
  }
  return v;
}

// Printable form of a key or name for error messages (invalid UTF-8 shown escaped).
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 96)) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > 96) out += "...";
  return out;
}

Status type_error(std::string_view key, const GgufValue& v, const char* wanted) {
  return make_error(ErrorCode::kCorruptFile, "metadata key '%.*s' has type %s, expected %s",
                    static_cast<int>(key.size()), key.data(), gguf_type_name(v.type), wanted);
}

Error not_found(std::string_view key) {
  return make_error(ErrorCode::kNotFound, "metadata key '%.*s' not found", static_cast<int>(key.size()), key.data());
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
      return "u8";
    case GgufType::kInt8:
      return "i8";
    case GgufType::kUint16:
      return "u16";
    case GgufType::kInt16:
      return "i16";
    case GgufType::kUint32:
      return "u32";
    case GgufType::kInt32:
      return "i32";
    case GgufType::kFloat32:
      return "f32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "u64";
    case GgufType::kInt64:
      return "i64";
    case GgufType::kFloat64:
      return "f64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

static bool is_signed_type(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 || t == GgufType::kInt64;
}

std::optional<int64_t> GgufValue::as_int() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type)) return i;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u);
}

std::optional<double> GgufValue::as_number() const {
  if (type == GgufType::kFloat32 || type == GgufType::kFloat64) return f;
  if (!is_integer()) return std::nullopt;
  return is_signed_type(type) ? static_cast<double>(i) : static_cast<double>(u);
}

std::string GgufValue::to_display_string(size_t max_items) const {
  char buf[64];
  switch (type) {
    case GgufType::kBool:
      return u ? "true" : "false";
    case GgufType::kString: {
      std::string out = "\"";
      out += s.size() > 200 ? s.substr(0, 200) + "..." : s;
      return out + "\"";
    }
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      std::snprintf(buf, sizeof(buf), "%.9g", f);
      return buf;
    case GgufType::kArray: {
      std::string out = "[";
      size_t n = arr ? arr->items.size() : 0;
      for (size_t k = 0; k < n && k < max_items; ++k) {
        if (k > 0) out += ", ";
        out += arr->items[k].to_display_string(max_items);
      }
      if (n > max_items) out += ", ... (" + std::to_string(n) + " items)";
      return out + "]";
    }
    default:
      if (is_signed_type(type)) return std::to_string(i);
      return std::to_string(u);
  }
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  BALEEN_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
  return parse(std::move(f));
}

Result<GgufFile> GgufFile::parse(MappedFile file) {
  static_assert(std::endian::native == std::endian::little, "GGUF reader assumes a little-endian host");
  GgufFile g;
  g.file_ = std::move(file);
  const std::string ctx = "GGUF '" + g.file_.path() + "'";
  Reader r(g.file_.data(), g.file_.size());
  auto fail = [&](const Error& e) { return e.with_context(ctx); };

  // Header.
  if (g.file_.size() < 4)
    return fail(r.corrupt(0, "file of %llu bytes is too short for the GGUF magic", static_cast<ull>(g.file_.size())));
  const uint8_t* d = g.file_.data();
  if (std::memcmp(d, "FUGG", 4) == 0) {
    return fail(make_error(ErrorCode::kUnsupported, "big-endian GGUF (magic 'FUGG') is not supported"));
  }
  if (std::memcmp(d, "GGUF", 4) != 0) {
    return fail(r.corrupt(0, "bad magic %02x %02x %02x %02x (expected 'GGUF')", d[0], d[1], d[2], d[3]));
  }
  r.seek(4);
  auto version = r.read<uint32_t>("header version");
  if (!version.ok()) return fail(version.error());
  g.version_ = *version;
  if (g.version_ != 2 && g.version_ != 3) {
    uint32_t swapped = __builtin_bswap32(g.version_);
    if (swapped >= 1 && swapped <= 3) {
      return fail(make_error(ErrorCode::kUnsupported,
                             "big-endian GGUF (version field %u byte-swapped) is not supported", swapped));
    }
    return fail(make_error(ErrorCode::kUnsupported, "GGUF version %u is not supported (only 2 and 3)", g.version_));
  }
  auto n_tensors = r.read<uint64_t>("header tensor count");
  if (!n_tensors.ok()) return fail(n_tensors.error());
  auto n_kv = r.read<uint64_t>("header metadata count");
  if (!n_kv.ok()) return fail(n_kv.error());
  if (*n_kv > r.remaining() / kMinKvBytes) {
    return fail(r.corrupt(16, "metadata count %llu cannot fit in the %llu bytes left", static_cast<ull>(*n_kv),
                          static_cast<ull>(r.remaining())));
  }
  if (*n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return fail(r.corrupt(8, "tensor count %llu cannot fit in the %llu bytes left", static_cast<ull>(*n_tensors),
                          static_cast<ull>(r.remaining())));
  }

  // Metadata.
  g.kv_.reserve(static_cast<size_t>(*n_kv));
  for (uint64_t k = 0; k < *n_kv; ++k) {
    uint64_t at = r.pos();
    auto key = r.read_string("metadata key", kMaxKeyLength);
    if (!key.ok()) return fail(key.error().with_context("metadata entry #" + std::to_string(k)));
    if (!utf8::is_valid(*key)) {
      return fail(
          r.corrupt(at, "metadata key #%llu '%s' is not valid UTF-8", static_cast<ull>(k), printable(*key).c_str()));
    }
    if (g.kv_index_.count(*key) != 0) {
      return fail(r.corrupt(at, "duplicate metadata key '%s'", printable(*key).c_str()));
    }
    uint64_t type_at = r.pos();
    auto type = r.read<uint32_t>("metadata value type");
    if (!type.ok()) return fail(type.error().with_context("metadata key '" + printable(*key) + "'"));
    if (!valid_gguf_type(*type)) {
      return fail(r.corrupt(type_at, "metadata key '%s': unknown value type %u", printable(*key).c_str(), *type));
    }
    auto value = read_value(r, static_cast<GgufType>(*type), 0, printable(*key));
    if (!value.ok()) return fail(value.error().with_context("metadata key '" + printable(*key) + "'"));
    if (*key == "general.alignment") {
      if (value->type != GgufType::kUint32) {
        return fail(r.corrupt(type_at, "general.alignment has type %s, expected u32", gguf_type_name(value->type)));
      }
      if (value->u == 0 || (value->u & (value->u - 1)) != 0) {
        return fail(
            r.corrupt(type_at, "general.alignment %llu is not a nonzero power of two", static_cast<ull>(value->u)));
      }
      g.alignment_ = value->u;
    }
    g.kv_index_.emplace(*key, g.kv_.size());
    g.kv_.emplace_back(std::move(*key), std::move(*value));
  }

  // Tensor infos.
  if (*n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return fail(r.corrupt(8, "tensor count %llu cannot fit in the %llu bytes left after the metadata",
                          static_cast<ull>(*n_tensors), static_cast<ull>(r.remaining())));
  }
  g.tensors_.reserve(static_cast<size_t>(*n_tensors));
  for (uint64_t t = 0; t < *n_tensors; ++t) {
    GgufTensorInfo ti;
    uint64_t at = r.pos();
    auto name = r.read_string("tensor name", kMaxTensorNameLength);
    if (!name.ok()) return fail(name.error().with_context("tensor #" + std::to_string(t)));
    ti.name = std::move(*name);
    const std::string pname = printable(ti.name);
    if (!utf8::is_valid(ti.name)) {
      return fail(r.corrupt(at, "tensor #%llu name '%s' is not valid UTF-8", static_cast<ull>(t), pname.c_str()));
    }
    if (g.tensor_index_.count(ti.name) != 0) {
      return fail(r.corrupt(at, "duplicate tensor name '%s'", pname.c_str()));
    }
    const std::string tctx = "tensor '" + pname + "'";
    uint64_t dims_at = r.pos();
    auto n_dims = r.read<uint32_t>("tensor n_dims");
    if (!n_dims.ok()) return fail(n_dims.error().with_context(tctx));
    if (*n_dims > kMaxDims) {
      return fail(r.corrupt(dims_at, "tensor '%s': n_dims %u exceeds %u", pname.c_str(), *n_dims, kMaxDims));
    }
    ti.n_elements = 1;
    for (uint32_t k = 0; k < *n_dims; ++k) {
      uint64_t ne_at = r.pos();
      auto ne = r.read<uint64_t>("tensor dimension");
      if (!ne.ok()) return fail(ne.error().with_context(tctx));
      if (*ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return fail(r.corrupt(ne_at, "tensor '%s': ne[%u] = %lld is negative", pname.c_str(), k,
                              static_cast<long long>(static_cast<int64_t>(*ne))));
      }
      if (!checked_mul(ti.n_elements, *ne, &ti.n_elements)) {
        return fail(r.corrupt(ne_at, "tensor '%s': element count overflows at ne[%u] = %llu", pname.c_str(), k,
                              static_cast<ull>(*ne)));
      }
      ti.ne.push_back(*ne);
    }
    uint64_t type_at = r.pos();
    auto type_id = r.read<uint32_t>("tensor type");
    if (!type_id.ok()) return fail(type_id.error().with_context(tctx));
    auto info = ggml_type_info(*type_id);
    if (!info) {
      // Ids below 42 are ggml types Baleen does not handle (IQ2_XXS, TQ1_0, ...); larger ones are
      // not ggml types at all.
      if (*type_id < 42 && *type_id != 4 && *type_id != 5) {
        return fail(make_error(ErrorCode::kUnsupported,
                               "tensor '%s': ggml type id %u is not supported (at byte offset %llu)", pname.c_str(),
                               *type_id, static_cast<ull>(type_at)));
      }
      return fail(r.corrupt(type_at, "tensor '%s': unknown tensor type id %u", pname.c_str(), *type_id));
    }
    ti.type = info->type;
    uint64_t ne0 = ti.ne.empty() ? 1 : ti.ne[0];
    if (ne0 % info->block_size != 0) {
      return fail(r.corrupt(dims_at, "tensor '%s': ne[0] = %llu is not a multiple of the %s block size %u",
                            pname.c_str(), static_cast<ull>(ne0), std::string(info->name).c_str(), info->block_size));
    }
    if (!checked_mul(ti.n_elements / info->block_size, info->type_size, &ti.n_bytes)) {
      return fail(r.corrupt(dims_at, "tensor '%s': byte size overflows", pname.c_str()));
    }
    uint64_t off_at = r.pos();
    auto offset = r.read<uint64_t>("tensor data offset");
    if (!offset.ok()) return fail(offset.error().with_context(tctx));
    ti.offset = *offset;
    if (ti.offset % g.alignment_ != 0) {
      return fail(r.corrupt(off_at, "tensor '%s': data offset %llu is not a multiple of the alignment %llu",
                            pname.c_str(), static_cast<ull>(ti.offset), static_cast<ull>(g.alignment_)));
    }
    g.tensor_index_.emplace(ti.name, g.tensors_.size());
    g.tensors_.push_back(std::move(ti));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  if (!checked_align_up(r.pos(), g.alignment_, &g.data_offset_)) {
    return fail(r.corrupt(r.pos(), "data section offset overflows"));
  }
  for (GgufTensorInfo& ti : g.tensors_) {
    uint64_t abs = 0;
    if (!checked_add(g.data_offset_, ti.offset, &abs) || !range_inside(abs, ti.n_bytes, g.file_.size())) {
      return fail(
          make_error(ErrorCode::kCorruptFile,
                     "tensor '%s': data [%llu, +%llu bytes) at relative offset %llu extends past the end of the "
                     "%llu-byte file (data section at byte offset %llu)",
                     printable(ti.name).c_str(), static_cast<ull>(abs), static_cast<ull>(ti.n_bytes),
                     static_cast<ull>(ti.offset), static_cast<ull>(g.file_.size()), static_cast<ull>(g.data_offset_)));
    }
    ti.data = g.file_.data() + abs;
  }
  // Overlapping data ranges (empty tensors overlap nothing).
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& ti : g.tensors_) {
    if (ti.n_bytes > 0) by_offset.push_back(&ti);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo* a = by_offset[k - 1];
    const GgufTensorInfo* b = by_offset[k];
    if (a->offset + a->n_bytes > b->offset) {  // no overflow: both ranges are inside the file
      return fail(make_error(ErrorCode::kCorruptFile,
                             "tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap (data offsets relative to byte "
                             "offset %llu)",
                             printable(a->name).c_str(), static_cast<ull>(a->offset),
                             static_cast<ull>(a->offset + a->n_bytes), printable(b->name).c_str(),
                             static_cast<ull>(b->offset), static_cast<ull>(b->offset + b->n_bytes),
                             static_cast<ull>(g.data_offset_)));
    }
  }
  return g;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (v->type != GgufType::kString) return type_error(key, *v, "string").error();
  return v->s;
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (!v->is_integer()) return type_error(key, *v, "an integer").error();
  auto i = v->as_int();
  if (!i) {
    return make_error(ErrorCode::kOutOfRange, "metadata key '%.*s' = %llu does not fit in int64",
                      static_cast<int>(key.size()), key.data(), static_cast<ull>(v->u));
  }
  return *i;
}

Result<double> GgufFile::get_number(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  auto d = v->as_number();
  if (!d) return type_error(key, *v, "a number").error();
  return *d;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (v->type != GgufType::kBool) return type_error(key, *v, "bool").error();
  return v->u != 0;
}

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (v->type != GgufType::kArray || v->arr->elem_type != GgufType::kString) {
    return type_error(key, *v, "array of strings").error();
  }
  std::vector<std::string> out;
  out.reserve(v->arr->items.size());
  for (const GgufValue& item : v->arr->items) out.push_back(item.s);
  return out;
}

Result<std::vector<double>> GgufFile::get_number_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (v->type != GgufType::kArray) return type_error(key, *v, "array of numbers").error();
  std::vector<double> out;
  out.reserve(v->arr->items.size());
  for (const GgufValue& item : v->arr->items) {
    auto d = item.as_number();
    if (!d) return type_error(key, *v, "array of numbers").error();
    out.push_back(*d);
  }
  return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return not_found(key);
  if (v->type != GgufType::kArray) return type_error(key, *v, "array of integers").error();
  std::vector<int64_t> out;
  out.reserve(v->arr->items.size());
  for (const GgufValue& item : v->arr->items) {
    auto i = item.as_int();
    if (!i) return type_error(key, *v, "array of integers").error();
    out.push_back(*i);
  }
  return out;
}

std::string GgufFile::architecture() const {
  const GgufValue* v = find("general.architecture");
  return v != nullptr && v->type == GgufType::kString ? v->s : std::string();
}

}  // namespace baleen
