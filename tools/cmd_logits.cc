// `baleen logits`: runs a list of token ids through the model as ONE sequence (one prefill with
// every position's logits) and writes them as raw little-endian float32, row-major
// [n_ids, n_vocab], no header: row i is the distribution of the token after ids[0..i]. With
// --head mtp it writes the MTP head's logits after the same prefill, [n_ids - 1, n_vocab] (row i
// predicts ids[i + 2]). Other programs (conformance checks, compare_logits.py --raw) rely on exactly
// this form. Errors give one line on stderr and a non-zero exit; no file is left behind.
#include <bit>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "model_cli.h"

namespace baleen::cli {
namespace {

// "1,403, 407" -> ids. Errors: empty list, empty entry, not a number.
Result<std::vector<int64_t>> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  size_t pos = 0;
  if (text.find_first_not_of(" \t") == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "--ids is empty: give comma-separated token ids");
  }
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view item = std::string_view(text).substr(pos, end - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
      return make_error(ErrorCode::kInvalidArgument, "--ids: '%.*s' (entry %zu) is not a token id",
                        static_cast<int>(item.size()), item.data(), ids.size());
    }
    ids.push_back(v);
    pos = end + 1;
  }
  return ids;
}

Status write_floats(const std::string& path, const std::vector<float>& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return make_error(ErrorCode::kIo, "cannot open %s for writing", path.c_str());
  bool ok = true;
  if constexpr (std::endian::native == std::endian::little) {
    ok = std::fwrite(data.data(), sizeof(float), data.size(), f) == data.size();
  } else {
    for (float v : data) {
      uint32_t u = std::bit_cast<uint32_t>(v);
      unsigned char b[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                            static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
      ok = ok && std::fwrite(b, 1, 4, f) == 4;
    }
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return make_error(ErrorCode::kIo, "cannot write %s", path.c_str());
  }
  return ok_status();
}

Status run_logits(const ModelOptions& mo, const std::string& ids_text, const std::string& out_path,
                  const std::string& head) {
  if (head != "main" && head != "mtp") {
    return make_error(ErrorCode::kInvalidArgument, "--head must be main or mtp (got '%s')", head.c_str());
  }
  const bool mtp = head == "mtp";
  BALEEN_ASSIGN_OR_RETURN(std::vector<int64_t> ids64, parse_ids(ids_text));
  if (mtp && ids64.size() < 2) {
    return Error(ErrorCode::kInvalidArgument, "--head mtp needs at least 2 ids (row i predicts ids[i + 2])");
  }
  if (mo.ctx > 0 && static_cast<int64_t>(ids64.size()) > mo.ctx) {
    return make_error(ErrorCode::kOutOfRange, "%zu ids do not fit the context of %lld tokens (--ctx)", ids64.size(),
                      static_cast<long long>(mo.ctx));
  }

  LoadOptions lo;
  lo.load_mtp = mtp;
  BALEEN_ASSIGN_OR_RETURN(LoadedModel lm, load_model(mo, static_cast<int64_t>(ids64.size()), lo));
  const int64_t n_vocab = lm.model->config().n_vocab;
  std::vector<TokenId> ids;
  ids.reserve(ids64.size());
  for (size_t i = 0; i < ids64.size(); ++i) {
    if (ids64[i] < 0 || ids64[i] >= n_vocab) {
      return make_error(ErrorCode::kOutOfRange, "token id %lld (entry %zu) is outside the vocabulary [0, %lld)",
                        static_cast<long long>(ids64[i]), i, static_cast<long long>(n_vocab));
    }
    ids.push_back(static_cast<TokenId>(ids64[i]));
  }
  if (static_cast<int64_t>(ids.size()) > lm.session->n_ctx()) {
    return make_error(ErrorCode::kOutOfRange, "%zu ids do not fit the context of %lld tokens", ids.size(),
                      static_cast<long long>(lm.session->n_ctx()));
  }
  if (mtp && !lm.model->has_mtp()) {
    return Error(ErrorCode::kUnsupported, "--head mtp: the model has no MTP module");
  }

  std::vector<float> logits;
  BALEEN_TRY(lm.session->eval(ids, &logits, /*all_logits=*/true));
  int64_t rows = static_cast<int64_t>(ids.size());
  if (mtp) {
    BALEEN_TRY(lm.session->mtp_logits(&logits));
    rows -= 1;
  }
  if (static_cast<int64_t>(logits.size()) != rows * n_vocab) {
    return make_error(ErrorCode::kInternal, "expected %lld x %lld logits, the model gave %zu values",
                      static_cast<long long>(rows), static_cast<long long>(n_vocab), logits.size());
  }
  BALEEN_TRY(write_floats(out_path, logits));
  std::fprintf(stderr, "wrote %lld x %lld float32 logits (%s head) to %s\n", static_cast<long long>(rows),
               static_cast<long long>(n_vocab), head.c_str(), out_path.c_str());
  return ok_status();
}

}  // namespace

Runner add_logits(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::string ids, out, head = "main";
  };
  auto o = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("logits", "Write the logits of every position of a token sequence (raw float32)");
  add_model_options(sub, &o->model);
  sub->add_option("--ids", o->ids, "comma-separated token ids, evaluated as one sequence")->required();
  sub->add_option("-o,--out", o->out, "output file: little-endian float32 [n_ids, n_vocab], no header")->required();
  sub->add_option("--head", o->head, "main (default) or mtp: the MTP head's [n_ids - 1, n_vocab] logits");
  return [o]() -> int {
    Status st = run_logits(o->model, o->ids, o->out, o->head);
    if (!st.ok()) {
      print_error("logits", st.error());
      return 1;
    }
    return 0;
  };
}

}  // namespace baleen::cli
