// A generated corpus of malformed safetensors files and sharded folders. Every case must be rejected
// with the expected error code and a message naming the problem, never crash (run under ASan/UBSan
// with -DBALEEN_SANITIZE=ON to check the "never crash" half properly).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>

#include "core/mapped_file.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "testing.h"

namespace baleen {
namespace {

// 8-byte little-endian length + header + data, the length given explicitly (may lie).
std::string make_file_with_length(uint64_t n, const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out + header + data;
}
std::string make_file(const std::string& header, const std::string& data) {
  return make_file_with_length(header.size(), header, data);
}
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

struct Case {
  std::string label;
  std::string bytes;
  ErrorCode code;
  std::string needle;  // must appear in the message
};

class Corpus {
 public:
  explicit Corpus(std::string dir) : dir_(std::move(dir)) {}

  // Writes the file and checks it is rejected as expected.
  void check_file(const Case& c) {
    const std::string path = dir_ + "/case" + std::to_string(total_) + ".safetensors";
    ASSERT_TRUE(write_file(path, c.bytes).ok());
    expect_rejected(c.label, SafetensorsFile::open(path), c.code, c.needle);
    // The same through the model API.
    expect_rejected(c.label + " (model)", SafetensorsModel::open(path), c.code, c.needle, /*count=*/false);
  }

  template <typename R>
  void expect_rejected(const std::string& label, const R& r, ErrorCode code, const std::string& needle,
                       bool count = true) {
    if (count) ++total_;
    if (r.ok()) {
      ADD_FAILURE() << label << ": accepted";
      return;
    }
    bool good = true;
    if (r.error().code() != code) {
      ADD_FAILURE() << label << ": code " << error_code_name(r.error().code()) << ", want " << error_code_name(code)
                    << " (" << r.error().message() << ")";
      good = false;
    }
    if (r.error().message().find(needle) == std::string::npos) {
      ADD_FAILURE() << label << ": message '" << r.error().message() << "' lacks '" << needle << "'";
      good = false;
    }
    if (good && count) ++rejected_;
  }

  int rejected_ = 0;
  int total_ = 0;

 private:
  std::string dir_;
};

std::string valid_file() {
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  EXPECT_TRUE(w.add_f32("a", SafetensorsDtype::kF32, {2, 3}, {1, 2, 3, 4, 5, 6}).ok());
  EXPECT_TRUE(w.add_f32("b", SafetensorsDtype::kBF16, {4}, {1, 2, 3, 4}).ok());
  return w.serialize();
}

TEST(SafetensorsCorrupt, Corpus) {
  const std::string dir = testing::scratch_dir("safetensors_corrupt");
  Corpus corpus(dir);
  const ErrorCode kCorrupt = ErrorCode::kCorruptFile;

  // The undamaged file is accepted (so the rejections below are caused by the damage).
  const std::string good = valid_file();
  ASSERT_TRUE(write_file(dir + "/good.safetensors", good).ok());
  ASSERT_TRUE(SafetensorsFile::open(dir + "/good.safetensors").ok());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(good[i]);
  const size_t data_start = 8 + n;
  ASSERT_LT(data_start, good.size());

  // Truncation at every byte of the length and of the header, and at a sample of data positions.
  for (size_t k = 0; k < 8; ++k) {
    corpus.check_file({"truncated at " + std::to_string(k), good.substr(0, k), kCorrupt, "too short"});
  }
  for (size_t k = 8; k < data_start; ++k) {
    corpus.check_file({"truncated at " + std::to_string(k), good.substr(0, k), kCorrupt, "exceeds the file size"});
  }
  for (size_t k : {data_start, data_start + 1, data_start + 23, data_start + 24, good.size() - 1}) {
    corpus.check_file({"truncated at " + std::to_string(k), good.substr(0, k), kCorrupt, "past the end"});
  }

  // Header length.
  const std::string hdr = "{" + entry("a", "F32", "[1]", "[0,4]") + "}";
  corpus.check_file({"length 2^63", make_file_with_length(uint64_t{1} << 63, hdr, "abcd"), kCorrupt, "limit"});
  corpus.check_file({"length 2^64-1", make_file_with_length(UINT64_MAX, hdr, "abcd"), kCorrupt, "limit"});
  corpus.check_file({"length 100MB+1", make_file_with_length(100'000'001, hdr, "abcd"), kCorrupt, "limit"});
  corpus.check_file(
      {"length > file", make_file_with_length(hdr.size() + 5, hdr, "abcd"), kCorrupt, "exceeds the file size"});
  corpus.check_file({"length 0", make_file_with_length(0, "", ""), kCorrupt, "does not start with '{'"});

  // Header JSON.
  corpus.check_file({"invalid JSON", make_file("{\"a\": ", ""), kCorrupt, "not valid JSON"});
  corpus.check_file({"trailing comma", make_file("{" + entry("a", "F32", "[1]", "[0,4]") + ",}", "abcd"), kCorrupt,
                     "not valid JSON"});
  corpus.check_file({"trailing garbage", make_file(hdr + " x", "abcd"), kCorrupt, "not valid JSON"});
  corpus.check_file({"array header", make_file("[1, 2]", ""), kCorrupt, "does not start with '{'"});
  corpus.check_file({"string header", make_file("\"abc\"", ""), kCorrupt, "does not start with '{'"});
  corpus.check_file({"NUL in header", make_file(std::string("{\0}", 3), ""), kCorrupt, "not valid JSON"});
  corpus.check_file({"invalid UTF-8 name", make_file("{" + entry("\xff\xfe", "F32", "[1]", "[0,4]") + "}", "abcd"),
                     kCorrupt, "UTF-8"});
  corpus.check_file({"overlong UTF-8 name", make_file("{" + entry("\xc0\xaf", "F32", "[1]", "[0,4]") + "}", "abcd"),
                     kCorrupt, "UTF-8"});
  corpus.check_file({"entry not object", make_file("{\"a\": 5}", ""), kCorrupt, "must be an object"});
  corpus.check_file({"missing dtype", make_file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd"), kCorrupt,
                     "missing 'dtype'"});
  corpus.check_file({"missing shape", make_file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "abcd"), kCorrupt,
                     "missing 'shape'"});
  corpus.check_file({"missing offsets", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "abcd"), kCorrupt,
                     "missing 'data_offsets'"});
  corpus.check_file({"unknown field",
                     make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", "abcd"),
                     kCorrupt, "unknown field 'x'"});
  corpus.check_file({"metadata not object", make_file("{\"__metadata__\": [1]}", ""), kCorrupt, "__metadata__"});
  corpus.check_file({"metadata value not string", make_file("{\"__metadata__\": {\"format\": 1}}", ""), kCorrupt,
                     "__metadata__ value of 'format'"});

  // dtype.
  corpus.check_file({"unknown dtype", make_file("{" + entry("a", "F4", "[1]", "[0,4]") + "}", "abcd"),
                     ErrorCode::kUnsupported, "unknown dtype 'F4'"});
  corpus.check_file({"dtype not string",
                     make_file("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd"), kCorrupt,
                     "dtype must be a string"});

  // Shapes.
  corpus.check_file({"negative dim", make_file("{" + entry("a", "F32", "[-1]", "[0,4]") + "}", "abcd"), kCorrupt,
                     "shape[0] is negative"});
  corpus.check_file({"float dim", make_file("{" + entry("a", "F32", "[1.5]", "[0,4]") + "}", "abcd"), kCorrupt,
                     "shape[0] is not an integer"});
  corpus.check_file({"1e30 dim", make_file("{" + entry("a", "F32", "[1e30]", "[0,4]") + "}", "abcd"), kCorrupt,
                     "shape[0] is not an integer"});
  corpus.check_file({"dim beyond uint64",
                     make_file("{" + entry("a", "F32", "[1, 99999999999999999999999]", "[0,4]") + "}", "abcd"),
                     kCorrupt, "shape[1] is not an integer"});
  corpus.check_file({"huge dim", make_file("{" + entry("a", "F32", "[18446744073709551615]", "[0,4]") + "}", "abcd"),
                     kCorrupt, "shape[0] is too large"});
  corpus.check_file({"string dim", make_file("{" + entry("a", "F32", "[\"4\"]", "[0,4]") + "}", "abcd"), kCorrupt,
                     "shape[0] must be an integer"});
  corpus.check_file({"shape not array", make_file("{" + entry("a", "F32", "4", "[0,4]") + "}", "abcd"), kCorrupt,
                     "shape must be an array"});
  corpus.check_file({"shape product overflow",
                     make_file("{" + entry("a", "F32", "[4294967296, 4294967296, 16]", "[0,4]") + "}", "abcd"),
                     kCorrupt, "shape product overflows"});
  corpus.check_file({"shape product 2^64 wrap",
                     make_file("{" + entry("a", "U8", "[4294967296, 4294967296]", "[0,0]") + "}", ""), kCorrupt,
                     "shape product overflows"});

  // Byte length vs shape x dtype size.
  corpus.check_file({"bytes < shape", make_file("{" + entry("a", "F32", "[3]", "[0,8]") + "}", "abcdefgh"), kCorrupt,
                     "needs 12 bytes"});
  corpus.check_file({"bytes > shape", make_file("{" + entry("a", "BF16", "[2]", "[0,8]") + "}", "abcdefgh"), kCorrupt,
                     "needs 4 bytes"});

  // Offsets.
  corpus.check_file({"offsets out of file", make_file("{" + entry("a", "F32", "[250]", "[0,1000]") + "}", "abcd"),
                     kCorrupt, "past the end"});
  corpus.check_file({"offsets huge",
                     make_file("{" + entry("a", "U8", "[1]", "[18446744073709551614,18446744073709551615]") + "}", "a"),
                     kCorrupt, "past the end"});
  corpus.check_file({"end < begin", make_file("{" + entry("a", "U8", "[0]", "[8,0]") + "}", "abcdefgh"), kCorrupt,
                     "end 0 < begin 8"});
  corpus.check_file({"negative offset", make_file("{" + entry("a", "U8", "[4]", "[-4,0]") + "}", "abcd"), kCorrupt,
                     "data_offsets begin is negative"});
  corpus.check_file({"offsets wrong length", make_file("{" + entry("a", "U8", "[4]", "[0,4,8]") + "}", "abcd"),
                     kCorrupt, "data_offsets must be an array"});
  corpus.check_file({"overlapping",
                     make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}",
                               "abcdefghijkl"),
                     kCorrupt, "overlap"});
  corpus.check_file(
      {"same range twice",
       make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}", "abcdefgh"),
       kCorrupt, "overlap"});
  corpus.check_file(
      {"hole",
       make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[12,20]") + "}",
                 std::string(20, 'x')),
       kCorrupt, "hole"});
  corpus.check_file(
      {"hole at start", make_file("{" + entry("a", "F32", "[1]", "[4,8]") + "}", "abcdefgh"), kCorrupt, "hole"});
  corpus.check_file({"trailing bytes", make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "}", std::string(12, 'x')),
                     kCorrupt, "cover only 8"});
  corpus.check_file({"data but no tensors", make_file("{}", "abcd"), kCorrupt, "cover only 0"});

  // Duplicate names (nlohmann would silently keep the last one).
  corpus.check_file(
      {"duplicate names",
       make_file("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}", "abcdefgh"),
       kCorrupt, "duplicate key 'a'"});
  corpus.check_file(
      {"duplicate field",
       make_file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd"),
       kCorrupt, "duplicate key 'dtype'"});
  corpus.check_file({"duplicate __metadata__", make_file("{\"__metadata__\":{},\"__metadata__\":{}}", ""), kCorrupt,
                     "duplicate key '__metadata__'"});

  // Sharded folders.
  auto shard = [](const std::vector<std::string>& names) {
    SafetensorsWriter w;
    for (const std::string& nm : names) EXPECT_TRUE(w.add_f32(nm, SafetensorsDtype::kF32, {1}, {1.0f}).ok());
    return w.serialize();
  };
  int folder_id = 0;
  auto check_folder = [&](const std::string& label, const std::string& index,
                          const std::vector<std::pair<std::string, std::string>>& files, ErrorCode code,
                          const std::string& needle) {
    const std::string d = dir + "/folder" + std::to_string(folder_id++);
    std::filesystem::create_directories(d);
    ASSERT_TRUE(write_file(d + "/model.safetensors.index.json", index).ok());
    for (const auto& [fname, bytes] : files) ASSERT_TRUE(write_file(d + "/" + fname, bytes).ok());
    corpus.expect_rejected(label, SafetensorsModel::open_folder(d), code, needle);
  };
  const std::string s1 = "s1.safetensors", s2 = "s2.safetensors";
  check_folder("index: trailing byte in shard", R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})",
               {{s1, shard({"x"})}, {s2, shard({"y"}) + "?"}}, kCorrupt, "cover only");
  check_folder("index: missing shard", R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})",
               {{s1, shard({"x"})}}, ErrorCode::kNotFound,
               "shard 's2.safetensors' listed in weight_map does not exist");
  check_folder("index: tensor missing in shard", R"({"weight_map": {"x": "s1.safetensors", "y": "s1.safetensors"}})",
               {{s1, shard({"x"})}}, kCorrupt,
               "tensor 'y' listed in weight_map is missing from shard 's1.safetensors'");
  check_folder("index: tensor in two shards", R"({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}})",
               {{s1, shard({"x"})}, {s2, shard({"x", "y"})}}, kCorrupt, "same tensor in two shards");
  check_folder("index: tensor not listed", R"({"weight_map": {"x": "s1.safetensors"}})", {{s1, shard({"x", "z"})}},
               kCorrupt, "tensor 'z' in shard 's1.safetensors' is not listed");
  check_folder("index: no weight_map", R"({"metadata": {}})", {{s1, shard({"x"})}}, kCorrupt, "missing 'weight_map'");
  check_folder("index: weight_map not object", R"({"weight_map": ["s1.safetensors"]})", {{s1, shard({"x"})}}, kCorrupt,
               "'weight_map' must be an object");
  check_folder("index: shard not string", R"({"weight_map": {"x": 1}})", {{s1, shard({"x"})}}, kCorrupt,
               "weight_map entry of 'x' must be a string");
  check_folder("index: shard leaves folder", R"({"weight_map": {"x": "../s1.safetensors"}})", {{s1, shard({"x"})}},
               kCorrupt, "leaves the folder");
  check_folder("index: absolute shard path", R"({"weight_map": {"x": "/etc/passwd"}})", {{s1, shard({"x"})}}, kCorrupt,
               "leaves the folder");
  check_folder("index: invalid JSON", R"({"weight_map": {"x": "s1.safetensors")", {{s1, shard({"x"})}}, kCorrupt,
               "not valid JSON");
  check_folder("index: duplicate tensor", R"({"weight_map": {"x": "s1.safetensors", "x": "s2.safetensors"}})",
               {{s1, shard({"x"})}, {s2, shard({})}}, kCorrupt, "duplicate key 'x'");
  check_folder("index: corrupt shard", R"({"weight_map": {"x": "s1.safetensors"}})", {{s1, shard({"x"}).substr(0, 20)}},
               kCorrupt, "exceeds the file size");

  testing::report_conformance("safetensors corrupt corpus rejected", corpus.rejected_, corpus.total_);
  EXPECT_EQ(corpus.rejected_, corpus.total_);
  EXPECT_GT(corpus.total_, 100);
}

}  // namespace
}  // namespace baleen
