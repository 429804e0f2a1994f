#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/checked.h"
#include "io/json_strict.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

struct DtypeEntry {
  SafetensorsDtype dtype;
  const char* name;
  uint32_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1},      {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},          {SafetensorsDtype::kU16, "U16", 2},
    {SafetensorsDtype::kI16, "I16", 2},        {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2},      {SafetensorsDtype::kU32, "U32", 4},
    {SafetensorsDtype::kI32, "I32", 4},        {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kU64, "U64", 8},        {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kF64, "F64", 8},        {SafetensorsDtype::kF8E4M3, "F8_E4M3", 1},
    {SafetensorsDtype::kF8E5M2, "F8_E5M2", 1},
};

const DtypeEntry& dtype_entry(SafetensorsDtype dtype) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == dtype) return e;
  }
  BALEEN_ASSERT(false, "unknown SafetensorsDtype %d", static_cast<int>(dtype));
  return kDtypes[0];
}

// Names in messages: valid UTF-8 (the header was checked) but possibly long.
std::string short_name(const std::string& s) { return s.size() <= 200 ? s : s.substr(0, 200) + "..."; }

// Reads a JSON integer in [0, limit]; `what` names it in the error.
Result<uint64_t> read_uint(const json& v, uint64_t limit, const std::string& what) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > limit)
      return make_error(ErrorCode::kCorruptFile, "%s is too large (%llu)", what.c_str(),
                        static_cast<unsigned long long>(u));
    return u;
  }
  if (v.is_number_integer()) {
    return make_error(ErrorCode::kCorruptFile, "%s is negative (%lld)", what.c_str(),
                      static_cast<long long>(v.get<int64_t>()));
  }
  if (v.is_number_float()) {
    return make_error(ErrorCode::kCorruptFile, "%s is not an integer (%g)", what.c_str(), v.get<double>());
  }
  return make_error(ErrorCode::kCorruptFile, "%s must be an integer, got %s", what.c_str(), json_type_name(v));
}

struct ParsedEntry {
  SafetensorsTensor tensor;
  uint64_t begin = 0;
  uint64_t end = 0;
};

Result<ParsedEntry> parse_entry(const std::string& name, const json& info, const std::string& path) {
  const std::string tname = "tensor '" + short_name(name) + "'";
  if (!info.is_object()) {
    return make_error(ErrorCode::kCorruptFile, "%s: header entry must be an object, got %s", tname.c_str(),
                      json_type_name(info));
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) return make_error(ErrorCode::kCorruptFile, "%s: missing '%s'", tname.c_str(), key);
  }
  for (auto it = info.begin(); it != info.end(); ++it) {
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
      return make_error(ErrorCode::kCorruptFile, "%s: unknown field '%s'", tname.c_str(), short_name(it.key()).c_str());
    }
  }
  ParsedEntry e;
  e.tensor.name = name;
  e.tensor.file = path;

  const json& dt = info["dtype"];
  if (!dt.is_string()) {
    return make_error(ErrorCode::kCorruptFile, "%s: dtype must be a string, got %s", tname.c_str(), json_type_name(dt));
  }
  std::optional<SafetensorsDtype> dtype = parse_safetensors_dtype(dt.get_ref<const std::string&>());
  if (!dtype) {
    return make_error(ErrorCode::kUnsupported, "%s: unknown dtype '%s'", tname.c_str(),
                      short_name(dt.get_ref<const std::string&>()).c_str());
  }
  e.tensor.dtype = *dtype;

  const json& shape = info["shape"];
  if (!shape.is_array()) {
    return make_error(ErrorCode::kCorruptFile, "%s: shape must be an array, got %s", tname.c_str(),
                      json_type_name(shape));
  }
  if (shape.size() > kSafetensorsMaxRank) {
    return make_error(ErrorCode::kCorruptFile, "%s: shape has %zu dimensions (max %zu)", tname.c_str(), shape.size(),
                      kSafetensorsMaxRank);
  }
  uint64_t n_elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    BALEEN_ASSIGN_OR_RETURN(uint64_t d,
                            read_uint(shape[i], kSafetensorsMaxDim, tname + ": shape[" + std::to_string(i) + "]"));
    if (!checked_mul(n_elements, d, &n_elements) || n_elements > kSafetensorsMaxDim) {
      return make_error(ErrorCode::kCorruptFile, "%s: shape product overflows", tname.c_str());
    }
    e.tensor.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t n_bytes = 0;
  if (!checked_mul(n_elements, safetensors_dtype_size(*dtype), &n_bytes)) {
    return make_error(ErrorCode::kCorruptFile, "%s: byte size overflows", tname.c_str());
  }

  const json& offs = info["data_offsets"];
  if (!offs.is_array() || offs.size() != 2) {
    return make_error(ErrorCode::kCorruptFile, "%s: data_offsets must be an array [begin, end]", tname.c_str());
  }
  BALEEN_ASSIGN_OR_RETURN(e.begin, read_uint(offs[0], UINT64_MAX, tname + ": data_offsets begin"));
  BALEEN_ASSIGN_OR_RETURN(e.end, read_uint(offs[1], UINT64_MAX, tname + ": data_offsets end"));
  if (e.end < e.begin) {
    return make_error(ErrorCode::kCorruptFile, "%s: data_offsets end %llu < begin %llu", tname.c_str(),
                      static_cast<unsigned long long>(e.end), static_cast<unsigned long long>(e.begin));
  }
  if (e.end - e.begin != n_bytes) {
    return make_error(ErrorCode::kCorruptFile,
                      "%s: data_offsets span %llu bytes but shape x dtype size (%s) needs %llu bytes", tname.c_str(),
                      static_cast<unsigned long long>(e.end - e.begin), safetensors_dtype_name(*dtype),
                      static_cast<unsigned long long>(n_bytes));
  }
  e.tensor.n_bytes = n_bytes;
  e.tensor.data_offset = e.begin;
  return e;
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype dtype) { return dtype_entry(dtype).name; }

std::optional<SafetensorsDtype> parse_safetensors_dtype(std::string_view name) {
  for (const DtypeEntry& e : kDtypes) {
    if (name == e.name) return e.dtype;
  }
  return std::nullopt;
}

uint32_t safetensors_dtype_size(SafetensorsDtype dtype) { return dtype_entry(dtype).size; }

uint64_t SafetensorsTensor::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);  // validated at open: cannot overflow
  return n;
}

std::string SafetensorsTensor::describe() const {
  std::string s = name + " " + safetensors_dtype_name(dtype) + " [";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  BALEEN_ASSIGN_OR_RETURN(f.file_, MappedFile::open(path));
  auto fail = [&](const Error& e) { return e.with_context("safetensors '" + path + "'"); };
  const uint64_t size = f.file_.size();
  if (size < 8) {
    return fail(make_error(ErrorCode::kCorruptFile, "file is %llu bytes, too short for the 8-byte header length",
                           static_cast<unsigned long long>(size)));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | f.file_.data()[i];  // little-endian
  if (n > kSafetensorsMaxHeaderBytes) {
    return fail(make_error(ErrorCode::kCorruptFile, "header length %llu exceeds the %llu-byte limit",
                           static_cast<unsigned long long>(n),
                           static_cast<unsigned long long>(kSafetensorsMaxHeaderBytes)));
  }
  if (n > size - 8) {
    return fail(make_error(ErrorCode::kCorruptFile, "header length %llu exceeds the file size %llu - 8",
                           static_cast<unsigned long long>(n), static_cast<unsigned long long>(size)));
  }
  f.header_bytes_ = n;
  std::string_view header(reinterpret_cast<const char*>(f.file_.data()) + 8, static_cast<size_t>(n));
  if (header.empty() || header[0] != '{') {
    return fail(make_error(ErrorCode::kCorruptFile, "header does not start with '{' (not a JSON object)"));
  }
  auto parsed = parse_json_strict(header, "header");
  if (!parsed.ok()) return fail(parsed.error());
  const json& root = *parsed;
  if (!root.is_object()) {
    return fail(make_error(ErrorCode::kCorruptFile, "header must be a JSON object, got %s", json_type_name(root)));
  }

  const uint8_t* data_section = f.file_.data() + 8 + n;
  const uint64_t data_size = size - 8 - n;
  std::vector<ParsedEntry> entries;
  entries.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) {
        return fail(
            make_error(ErrorCode::kCorruptFile, "__metadata__ must be an object, got %s", json_type_name(it.value())));
      }
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return fail(make_error(ErrorCode::kCorruptFile, "__metadata__ value of '%s' must be a string, got %s",
                                 short_name(m.key()).c_str(), json_type_name(m.value())));
        }
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto entry = parse_entry(it.key(), it.value(), path);
    if (!entry.ok()) return fail(entry.error());
    entries.push_back(std::move(entry).value());
  }

  // The data section must be tiled exactly: sorted by offset, each tensor starts where the previous
  // ended, the first at 0 and the last ends at the end of the file (the reference implementation's rule).
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (entries[a].begin != entries[b].begin) return entries[a].begin < entries[b].begin;
    return entries[a].end < entries[b].end;
  });
  uint64_t expect = 0;
  const std::string* prev = nullptr;
  for (size_t i : order) {
    const ParsedEntry& e = entries[i];
    const std::string nm = short_name(e.tensor.name);
    if (e.end > data_size) {
      return fail(
          make_error(ErrorCode::kCorruptFile,
                     "tensor '%s': data_offsets [%llu, %llu] extend past the end of the data section (%llu bytes)",
                     nm.c_str(), static_cast<unsigned long long>(e.begin), static_cast<unsigned long long>(e.end),
                     static_cast<unsigned long long>(data_size)));
    }
    if (e.begin < expect) {
      return fail(make_error(ErrorCode::kCorruptFile, "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'",
                             nm.c_str(), static_cast<unsigned long long>(e.begin),
                             static_cast<unsigned long long>(e.end), prev ? short_name(*prev).c_str() : "?"));
    }
    if (e.begin > expect) {
      return fail(make_error(
          ErrorCode::kCorruptFile, "tensor '%s': hole in the data section: bytes [%llu, %llu) belong to no tensor",
          nm.c_str(), static_cast<unsigned long long>(expect), static_cast<unsigned long long>(e.begin)));
    }
    expect = e.end;
    prev = &e.tensor.name;
  }
  if (expect != data_size) {
    return fail(make_error(ErrorCode::kCorruptFile,
                           "data section is %llu bytes but the tensors cover only %llu (trailing bytes or a hole)",
                           static_cast<unsigned long long>(data_size), static_cast<unsigned long long>(expect)));
  }

  f.tensors_.reserve(entries.size());
  for (ParsedEntry& e : entries) {
    e.tensor.data = data_section + e.begin;
    f.tensors_.push_back(std::move(e.tensor));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.name < b.name; });
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.by_name_.emplace(f.tensors_[i].name, i);
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

namespace {

// A shard path from the index must stay inside the folder: relative, no "..".
bool is_safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::open(const std::string& path) {
  SafetensorsModel m;
  std::error_code ec;
  std::string index_path;
  std::string dir;
  if (fs::is_directory(path, ec)) {
    dir = path;
    if (fs::exists(fs::path(path) / "model.safetensors.index.json", ec)) {
      index_path = (fs::path(path) / "model.safetensors.index.json").string();
    } else if (fs::exists(fs::path(path) / "model.safetensors", ec)) {
      BALEEN_ASSIGN_OR_RETURN(SafetensorsFile f,
                              SafetensorsFile::open((fs::path(path) / "model.safetensors").string()));
      m.shards_.push_back(std::move(f));
    } else {
      return make_error(ErrorCode::kNotFound, "'%s' has neither model.safetensors.index.json nor model.safetensors",
                        path.c_str());
    }
  } else if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    index_path = path;
    dir = fs::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
  } else {
    BALEEN_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open(path));
    m.shards_.push_back(std::move(f));
  }

  if (!index_path.empty()) {
    auto fail = [&](const Error& e) { return e.with_context("safetensors index '" + index_path + "'"); };
    BALEEN_ASSIGN_OR_RETURN(std::string text, read_file(index_path));
    auto parsed = parse_json_strict(text, "index");
    if (!parsed.ok()) return fail(parsed.error());
    const json& root = *parsed;
    if (!root.is_object()) {
      return fail(make_error(ErrorCode::kCorruptFile, "index must be a JSON object, got %s", json_type_name(root)));
    }
    if (root.contains("metadata") && root["metadata"].is_object()) {
      for (auto it = root["metadata"].begin(); it != root["metadata"].end(); ++it) {
        if (it.value().is_string()) m.index_metadata_[it.key()] = it.value().get<std::string>();
        if (it.value().is_number()) m.index_metadata_[it.key()] = it.value().dump();
      }
    }
    auto wm = root.find("weight_map");
    if (wm == root.end()) return fail(make_error(ErrorCode::kCorruptFile, "missing 'weight_map'"));
    if (!wm->is_object()) {
      return fail(make_error(ErrorCode::kCorruptFile, "'weight_map' must be an object, got %s", json_type_name(*wm)));
    }
    // weight_map: tensor -> shard file; shards listed in first-seen order of their names.
    std::map<std::string, std::string> tensor_to_shard;
    std::vector<std::string> shard_names;
    std::set<std::string> seen;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) {
        return fail(make_error(ErrorCode::kCorruptFile, "weight_map entry of '%s' must be a string, got %s",
                               short_name(it.key()).c_str(), json_type_name(it.value())));
      }
      const std::string& shard = it.value().get_ref<const std::string&>();
      if (!is_safe_relative(shard)) {
        return fail(make_error(ErrorCode::kCorruptFile, "weight_map entry of '%s': shard path '%s' leaves the folder",
                               short_name(it.key()).c_str(), short_name(shard).c_str()));
      }
      tensor_to_shard[it.key()] = shard;
      if (seen.insert(shard).second) shard_names.push_back(shard);
    }
    std::sort(shard_names.begin(), shard_names.end());
    m.shards_.reserve(shard_names.size());
    for (const std::string& shard : shard_names) {
      std::string shard_path = (fs::path(dir) / shard).string();
      if (!fs::exists(shard_path, ec)) {
        return fail(make_error(ErrorCode::kNotFound, "shard '%s' listed in weight_map does not exist", shard.c_str()));
      }
      auto f = SafetensorsFile::open(shard_path);
      if (!f.ok()) return fail(f.error());
      // Every tensor in the shard must be assigned to this shard by the index.
      for (const SafetensorsTensor& t : f->tensors()) {
        auto a = tensor_to_shard.find(t.name);
        if (a == tensor_to_shard.end()) {
          return fail(make_error(ErrorCode::kCorruptFile, "tensor '%s' in shard '%s' is not listed in weight_map",
                                 short_name(t.name).c_str(), shard.c_str()));
        }
        if (a->second != shard) {
          return fail(make_error(ErrorCode::kCorruptFile,
                                 "tensor '%s' appears in shard '%s' but weight_map assigns it to shard '%s' "
                                 "(same tensor in two shards)",
                                 short_name(t.name).c_str(), shard.c_str(), a->second.c_str()));
        }
      }
      m.shards_.push_back(std::move(f).value());
    }
    // Every tensor of the index must be in its shard.
    for (const auto& [name, shard] : tensor_to_shard) {
      size_t i =
          static_cast<size_t>(std::lower_bound(shard_names.begin(), shard_names.end(), shard) - shard_names.begin());
      if (m.shards_[i].find(name) == nullptr) {
        return fail(make_error(ErrorCode::kCorruptFile, "tensor '%s' listed in weight_map is missing from shard '%s'",
                               short_name(name).c_str(), shard.c_str()));
      }
    }
  }
  BALEEN_TRY(m.build_lookup());
  return m;
}

Status SafetensorsModel::build_lookup() {
  tensors_.clear();
  by_name_.clear();
  for (const SafetensorsFile& f : shards_) {
    for (const SafetensorsTensor& t : f.tensors()) {
      auto [it, inserted] = by_name_.emplace(t.name, &t);
      if (!inserted) {
        return make_error(ErrorCode::kCorruptFile, "tensor '%s' appears in both '%s' and '%s'",
                          short_name(t.name).c_str(), it->second->file.c_str(), t.file.c_str());
      }
      tensors_.push_back(&t);
    }
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafetensorsTensor* a, const SafetensorsTensor* b) { return a->name < b->name; });
  return ok_status();
}

const SafetensorsTensor* SafetensorsModel::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {

template <typename T>
T load_unaligned(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

Result<std::vector<float>> to_f32(const SafetensorsTensor& t) {
  const uint64_t n = t.n_elements();
  if (n * safetensors_dtype_size(t.dtype) != t.n_bytes) {
    return make_error(ErrorCode::kInternal, "tensor '%s': byte length does not match its shape", t.name.c_str());
  }
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = t.data;
  switch (t.dtype) {
    case SafetensorsDtype::kF32:
      if (n > 0) std::memcpy(out.data(), p, n * 4);
      break;
    case SafetensorsDtype::kF16:
      for (uint64_t i = 0; i < n; ++i) out[i] = f16_to_f32(load_unaligned<uint16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::kBF16:
      for (uint64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(load_unaligned<uint16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::kF8E4M3:
      for (uint64_t i = 0; i < n; ++i) out[i] = e4m3_to_f32(p[i]);
      break;
    case SafetensorsDtype::kF8E5M2:  // e5m2 is the top byte of an IEEE half
      for (uint64_t i = 0; i < n; ++i) out[i] = f16_to_f32(static_cast<uint16_t>(p[i] << 8));
      break;
    case SafetensorsDtype::kF64:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<double>(p + 8 * i));
      break;
    case SafetensorsDtype::kBool:
      for (uint64_t i = 0; i < n; ++i) out[i] = p[i] != 0 ? 1.0f : 0.0f;
      break;
    case SafetensorsDtype::kU8:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
      break;
    case SafetensorsDtype::kI8:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int8_t>(p[i]));
      break;
    case SafetensorsDtype::kU16:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<uint16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::kI16:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<int16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::kU32:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<uint32_t>(p + 4 * i));
      break;
    case SafetensorsDtype::kI32:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<int32_t>(p + 4 * i));
      break;
    case SafetensorsDtype::kU64:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<uint64_t>(p + 8 * i));
      break;
    case SafetensorsDtype::kI64:
      for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_unaligned<int64_t>(p + 8 * i));
      break;
  }
  return out;
}

}  // namespace baleen
