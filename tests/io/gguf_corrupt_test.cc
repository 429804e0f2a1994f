// Malformed GGUF corpus: every truncation of a valid file up to the end of its tensor-info
// section (and a sample past it), and hand-built files each breaking one rule (huge counts and
// lengths, overflowing shapes, bad type ids, bad offsets, invalid UTF-8, duplicates, bad magic,
// versions, alignment, an array depth bomb). Each must be rejected with kCorruptFile or
// kUnsupported and a message naming the problem; none may crash or allocate by a forged count.
// Finally random byte flips of the header region must never crash.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "testing.h"

namespace baleen {
namespace {

// Little-endian byte builder for hand-made files.
struct Raw {
  std::string b;
  Raw& u32(uint32_t v) { return bytes(&v, 4); }
  Raw& u64(uint64_t v) { return bytes(&v, 8); }
  Raw& u8(uint8_t v) { return bytes(&v, 1); }
  Raw& str(const std::string& s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Raw& bytes(const void* p, size_t n) {
    b.append(static_cast<const char*>(p), n);
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b += "GGUF";
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Raw& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  // Pads to 32 and appends n data bytes.
  Raw& data(size_t n) {
    b.resize((b.size() + 31) / 32 * 32, '\0');
    b.append(n, '\x11');
    return *this;
  }
};

struct Case {
  std::string name;
  std::string bytes;
  ErrorCode code;
  std::string needle;  // must appear in the message
};

class Corpus {
 public:
  Corpus() : dir_(testing::scratch_dir("gguf_corrupt")) {}

  // Writes the file, opens it, checks the rejection. Returns true when rejected as expected.
  bool check(const Case& c) {
    const std::string path = dir_ + "/" + std::to_string(n_total_++) + ".gguf";
    EXPECT_TRUE(write_file(path, c.bytes).ok());
    auto g = GgufFile::open(path);
    if (g.ok()) {
      ADD_FAILURE() << c.name << ": accepted";
      return false;
    }
    const Error& e = g.error();
    bool ok = e.code() == c.code && !e.message().empty() && e.message().find(c.needle) != std::string::npos;
    EXPECT_TRUE(ok) << c.name << ": got " << e.to_string() << " (wanted " << error_code_name(c.code) << " mentioning '"
                    << c.needle << "')";
    n_rejected_ += ok;
    return ok;
  }

  int n_total() const { return n_total_; }
  int n_rejected() const { return n_rejected_; }

 private:
  std::string dir_;
  int n_total_ = 0;
  int n_rejected_ = 0;
};

// A valid file with metadata of several kinds and three tensors (writer output).
std::string valid_file() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 3);
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "a"});
  w.set_value("nested", gguf_array(GgufType::kArray, {gguf_array(GgufType::kInt8, {gguf_i8(-1)})}));
  EXPECT_TRUE(w.add_tensor("a", GgmlType::kF32, {4, 2}, std::string(32, '\1')).ok());
  EXPECT_TRUE(w.add_tensor("b", GgmlType::kQ8_0, {32}, std::string(34, '\2')).ok());
  EXPECT_TRUE(w.add_tensor("c", GgmlType::kQ4_K, {256}, std::string(144, '\3')).ok());
  return w.serialize().value();
}

TEST(GgufCorrupt, CorpusIsRejected) {
  Corpus corpus;
  const std::string valid = valid_file();
  {
    // Sanity: the intact file parses; learn where its data section starts.
    const std::string path = testing::scratch_dir("gguf_corrupt_valid") + "/valid.gguf";
    ASSERT_TRUE(write_file(path, valid).ok());
    auto g = GgufFile::open(path);
    ASSERT_TRUE(g.ok()) << g.error().to_string();
    const uint64_t data_offset = g->data_offset();
    ASSERT_GT(data_offset, 100u);
    // Every truncation through the tensor-info section and its padding, then every 5th byte of
    // the data section (the last tensor then ends past the end of the file).
    for (uint64_t len = 0; len < valid.size(); len += (len < data_offset ? 1 : 5)) {
      std::string needle = len < 4 ? "magic" : (len < data_offset ? "" : "past the end");
      corpus.check({"truncated at " + std::to_string(len), valid.substr(0, len), ErrorCode::kCorruptFile, needle});
    }
  }

  const uint64_t kHuge = 1ull << 62;
  std::vector<Case> cases;
  cases.push_back({"bad magic", Raw().header(0, 0).b.replace(0, 4, "GGUX"), ErrorCode::kCorruptFile, "magic"});
  cases.push_back(
      {"big-endian magic", Raw().header(0, 0).b.replace(0, 4, "FUGG"), ErrorCode::kUnsupported, "big-endian"});
  cases.push_back({"big-endian version", Raw().header(0, 0, 0x03000000).b, ErrorCode::kUnsupported, "big-endian"});
  cases.push_back({"version 1", Raw().header(0, 0, 1).b, ErrorCode::kUnsupported, "version 1"});
  cases.push_back({"version 99", Raw().header(0, 0, 99).b, ErrorCode::kUnsupported, "version 99"});
  cases.push_back({"version 0", Raw().header(0, 0, 0).b, ErrorCode::kUnsupported, "version 0"});
  cases.push_back({"huge n_tensors", Raw().header(kHuge, 0).b, ErrorCode::kCorruptFile, "tensor count"});
  cases.push_back({"huge n_kv", Raw().header(0, kHuge).b, ErrorCode::kCorruptFile, "metadata count"});
  cases.push_back({"n_kv max", Raw().header(0, ~0ull).b, ErrorCode::kCorruptFile, "metadata count"});
  cases.push_back(
      {"huge key length", Raw().header(0, 1).u64(kHuge).u32(4).u32(1).b, ErrorCode::kCorruptFile, "string length"});
  cases.push_back({"key too long", Raw().header(0, 1).str(std::string(70000, 'k')).u32(4).u32(1).b,
                   ErrorCode::kCorruptFile, "exceeds the limit"});
  cases.push_back(
      {"huge string value", Raw().header(0, 1).str("k").u32(8).u64(kHuge).b, ErrorCode::kCorruptFile, "string length"});
  cases.push_back(
      {"huge u8 array", Raw().header(0, 1).str("k").u32(9).u32(0).u64(kHuge).b, ErrorCode::kCorruptFile, "array of"});
  cases.push_back({"huge string array", Raw().header(0, 1).str("k").u32(9).u32(8).u64(1ull << 60).b,
                   ErrorCode::kCorruptFile, "array of"});
  cases.push_back({"huge array of arrays", Raw().header(0, 1).str("k").u32(9).u32(9).u64(~0ull).b,
                   ErrorCode::kCorruptFile, "array of"});
  {
    Raw r;
    r.header(0, 1).str("bomb").u32(9);
    for (int k = 0; k < 100; ++k) r.u32(9).u64(1);
    r.u32(0).u64(0);
    cases.push_back({"array depth bomb", r.b, ErrorCode::kCorruptFile, "nested deeper"});
  }
  cases.push_back({"unknown value type", Raw().header(0, 1).str("k").u32(13).u32(0).b, ErrorCode::kCorruptFile,
                   "unknown value type 13"});
  cases.push_back({"unknown array element type", Raw().header(0, 1).str("k").u32(9).u32(77).u64(0).b,
                   ErrorCode::kCorruptFile, "element type 77"});
  cases.push_back({"bool value 2", Raw().header(0, 1).str("flag").u32(7).u8(2).b, ErrorCode::kCorruptFile, "flag"});
  cases.push_back(
      {"invalid UTF-8 key", Raw().header(0, 1).str("bad\xff\xfe").u32(4).u32(1).b, ErrorCode::kCorruptFile, "UTF-8"});
  cases.push_back(
      {"overlong UTF-8 key", Raw().header(0, 1).str("\xc0\xaf").u32(4).u32(1).b, ErrorCode::kCorruptFile, "UTF-8"});
  cases.push_back({"duplicate key", Raw().header(0, 2).kv_u32("dup.key", 1).kv_u32("dup.key", 2).b,
                   ErrorCode::kCorruptFile, "duplicate metadata key 'dup.key'"});
  cases.push_back({"alignment 0", Raw().header(0, 1).kv_u32("general.alignment", 0).b, ErrorCode::kCorruptFile,
                   "general.alignment"});
  cases.push_back({"alignment 48", Raw().header(0, 1).kv_u32("general.alignment", 48).b, ErrorCode::kCorruptFile,
                   "general.alignment 48"});
  cases.push_back({"alignment as u64", Raw().header(0, 1).str("general.alignment").u32(10).u64(32).b,
                   ErrorCode::kCorruptFile, "general.alignment"});
  cases.push_back({"truncated kv type", Raw().header(0, 1).str("key.name").b, ErrorCode::kCorruptFile, "truncated"});
  // Tensor infos (no metadata; the info section starts at byte 24).
  cases.push_back({"n_dims 5", Raw().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).data(4).b, ErrorCode::kCorruptFile,
                   "n_dims 5"});
  cases.push_back({"shape product overflows",
                   Raw().header(1, 0).tensor("t", {1ull << 32, 1ull << 32, 1ull << 32}, 0, 0).data(4).b,
                   ErrorCode::kCorruptFile, "overflow"});
  cases.push_back({"byte size overflows", Raw().header(1, 0).tensor("t", {32, 550000000000000000ull}, 8, 0).data(34).b,
                   ErrorCode::kCorruptFile, "byte size overflows"});
  cases.push_back(
      {"negative ne", Raw().header(1, 0).tensor("t", {~0ull}, 0, 0).data(4).b, ErrorCode::kCorruptFile, "negative"});
  cases.push_back({"unknown type id 1000", Raw().header(1, 0).tensor("t", {4}, 1000, 0).data(16).b,
                   ErrorCode::kCorruptFile, "type id 1000"});
  cases.push_back({"unsupported type id 16", Raw().header(1, 0).tensor("t", {256}, 16, 0).data(66).b,
                   ErrorCode::kUnsupported, "type id 16"});
  cases.push_back({"ne0 not a multiple of the block", Raw().header(1, 0).tensor("t", {16, 2}, 8, 0).data(34).b,
                   ErrorCode::kCorruptFile, "block size"});
  cases.push_back({"misaligned offset", Raw().header(1, 0).tensor("t", {4}, 0, 4).data(64).b, ErrorCode::kCorruptFile,
                   "not a multiple of the alignment"});
  cases.push_back({"offset past end", Raw().header(1, 0).tensor("t", {4}, 0, 1ull << 40).data(16).b,
                   ErrorCode::kCorruptFile, "past the end"});
  cases.push_back({"offset wraps around", Raw().header(1, 0).tensor("t", {4}, 0, ~0ull - 31).data(16).b,
                   ErrorCode::kCorruptFile, "past the end"});
  cases.push_back(
      {"data past end", Raw().header(1, 0).tensor("t", {8}, 0, 0).data(31).b, ErrorCode::kCorruptFile, "past the end"});
  cases.push_back({"overlapping tensors",
                   Raw().header(2, 0).tensor("t1", {16}, 0, 0).tensor("t2", {16}, 0, 32).data(96).b,
                   ErrorCode::kCorruptFile, "overlap"});
  cases.push_back({"same offset twice", Raw().header(2, 0).tensor("t1", {8}, 0, 0).tensor("t2", {8}, 0, 0).data(32).b,
                   ErrorCode::kCorruptFile, "overlap"});
  cases.push_back({"duplicate tensor name",
                   Raw().header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).data(64).b,
                   ErrorCode::kCorruptFile, "duplicate tensor name 'w'"});
  cases.push_back({"invalid UTF-8 tensor name", Raw().header(1, 0).tensor("w\x80", {8}, 0, 0).data(32).b,
                   ErrorCode::kCorruptFile, "UTF-8"});
  cases.push_back({"tensor name too long", Raw().header(1, 0).tensor(std::string(65, 'n'), {8}, 0, 0).data(32).b,
                   ErrorCode::kCorruptFile, "tensor name"});
  cases.push_back(
      {"more tensors than infos", Raw().header(3, 0).tensor("t", {8}, 0, 0).b, ErrorCode::kCorruptFile, "tensor"});
  cases.push_back({"tensor count bound after metadata",
                   Raw().header(2, 1).str("k").u32(8).str(std::string(40, 'v')).tensor("t", {1}, 0, 0).b,
                   ErrorCode::kCorruptFile, "tensor count"});
  for (const Case& c : cases) corpus.check(c);

  testing::report_conformance("gguf corrupt corpus rejected", corpus.n_rejected(), corpus.n_total());
  EXPECT_EQ(corpus.n_rejected(), corpus.n_total());
}

TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  const std::string valid = valid_file();
  const std::string dir = testing::scratch_dir("gguf_corrupt_flips");
  std::mt19937 rng(7);
  int rejected = 0, accepted = 0;
  for (int k = 0; k < 2000; ++k) {
    std::string b = valid;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) b[rng() % 400] = static_cast<char>(rng() & 0xFF);  // header, kv, infos
    const std::string path = dir + "/f.gguf";
    ASSERT_TRUE(write_file(path, b).ok());
    auto g = GgufFile::open(path);
    if (!g.ok()) {
      ++rejected;
      EXPECT_FALSE(g.error().message().empty());
      continue;
    }
    ++accepted;  // a flip in a value or in tensor bytes can leave a valid file: it must be consistent
    for (const GgufTensorInfo& t : g->tensors()) {
      ASSERT_LE(g->data_offset() + t.offset + t.n_bytes, g->file_size()) << t.name;
    }
  }
  std::printf("random flips: %d rejected, %d still valid\n", rejected, accepted);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace baleen
