// `baleen bench`: llama-bench-style throughput of one model on this machine. pp: a prefill of -p
// pseudo-random tokens in one eval; tg: -n single-token greedy decodes after a one-token prompt
// (after -d pseudo-random tokens and then that token with --depth, like llama-bench's -d);
// batch B: B sequences each decoding -n tokens, one batched forward (eval_batch) per step for all
// of them. One warm-up run, then -r timed repetitions (median, min, max). Also times loading with
// the page cache warm (Model::load, and load through the first token's logits) and measures the
// DRAM read bandwidth and relates tg to it (decode roofline). Text table by default; --json prints
// one JSON object on stdout.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_measure.h"
#include "commands.h"
#include "engine/sampling.h"
#include "inspect_report.h"
#include "model_cli.h"

namespace baleen::cli {
namespace {

constexpr uint32_t kSeed = 1234;    // pseudo-random prompt ids
constexpr int64_t kMaxBatch = 256;  // sessions per batch measurement

struct BenchOpts {
  ModelOptions model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t depth = 0;  // context tokens before each decode (prefilled once per session, not timed)
  std::string batches = "1,4,8";
  int reps = 5;
  bool json = false;
};

// "1,4,8" -> {1, 4, 8}. Errors: empty, non-numeric, non-positive, too large or repeated entries.
Result<std::vector<int64_t>> parse_batch_list(const std::string& s) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = s.find(',', pos);
    const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.empty() || item.size() > 6 ||
        !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return make_error(ErrorCode::kInvalidArgument, "-b must be a comma-separated list of batch sizes (got '%s')",
                        s.c_str());
    }
    const int64_t b = std::stoll(item);
    if (b <= 0 || b > kMaxBatch) {
      return make_error(ErrorCode::kInvalidArgument, "-b: batch sizes must be in 1..%lld (got %lld)",
                        static_cast<long long>(kMaxBatch), static_cast<long long>(b));
    }
    if (std::find(out.begin(), out.end(), b) != out.end()) {
      return make_error(ErrorCode::kInvalidArgument, "-b: batch size %lld given twice", static_cast<long long>(b));
    }
    out.push_back(b);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

AttentionForm attention_form(const std::string& name) {
  if (name == "naive") return AttentionForm::kNaive;
  if (name == "absorbed") return AttentionForm::kAbsorbed;
  return AttentionForm::kAuto;
}

// One timed measurement: tokens per second of a single run.
double tokens_per_second(int64_t tokens, std::chrono::steady_clock::time_point t0) {
  const double s = seconds_since(t0);
  return s > 0 ? static_cast<double>(tokens) / s : 0.0;
}

// Prefill of `ids` into an emptied session.
Result<double> run_pp(Session& s, const std::vector<TokenId>& ids, std::vector<float>* logits) {
  s.truncate(0);
  auto t0 = std::chrono::steady_clock::now();
  BALEEN_TRY(s.eval(ids, logits));
  return tokens_per_second(static_cast<int64_t>(ids.size()), t0);
}

// B sessions (B = sessions.size()): each starts from its one-token prompt (not timed), then n_gen
// steps, each one eval_batch of the greedy next token of every session. tg is the B = 1 case. With
// a non-empty `context`, each session holds it before its one-token prompt: prefilled on the first
// call (not timed), kept by later ones (truncated back to it).
Result<double> run_decode(const std::vector<Session*>& sessions, const std::vector<TokenId>& first, int64_t n_gen,
                          std::vector<std::vector<float>>* logits, BatchScratch* scratch,
                          std::span<const TokenId> context = {}, std::set<const Session*>* holding = nullptr) {
  const size_t b = sessions.size();
  std::vector<TokenId> next(b);
  std::vector<BatchItem> items(b);
  const auto depth = static_cast<int64_t>(context.size());
  for (size_t i = 0; i < b; ++i) {
    if (depth > 0 && holding != nullptr && holding->count(sessions[i]) > 0 && sessions[i]->n_past() >= depth) {
      sessions[i]->truncate(depth);
    } else {
      sessions[i]->truncate(0);
      if (depth > 0) {
        BALEEN_TRY(sessions[i]->eval(context, &(*logits)[i]));
        if (holding != nullptr) holding->insert(sessions[i]);
      }
    }
    next[i] = first[i % first.size()];
    items[i] = BatchItem{sessions[i], std::span<const TokenId>(&next[i], 1), &(*logits)[i]};
  }
  BALEEN_TRY(eval_batch(items, scratch));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < n_gen; ++step) {
    for (size_t i = 0; i < b; ++i) next[i] = argmax((*logits)[i]);
    BALEEN_TRY(eval_batch(items, scratch));
  }
  return tokens_per_second(static_cast<int64_t>(b) * n_gen, t0);
}

// Load timing with the page cache warm (the caller has run the model already): Model::load alone,
// and Model::load + a session of n_ctx tokens + the logits of a one-token prompt (time to first
// token), in seconds.
struct LoadTimes {
  double load_s = 0, first_token_s = 0;
};
Result<LoadTimes> time_load(const std::string& path, ThreadPool& pool, const SessionOptions& so, TokenId first) {
  LoadTimes t;
  auto t0 = std::chrono::steady_clock::now();
  BALEEN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::load(path));
  t.load_s = seconds_since(t0);
  BALEEN_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::create(*model, pool, so));
  std::vector<float> logits;
  BALEEN_TRY(session->eval(std::span<const TokenId>(&first, 1), &logits));
  t.first_token_s = seconds_since(t0);
  return t;
}

// One warm-up call of `run`, then `reps` timed ones.
template <typename Fn>
Result<Spread> repeat(int reps, Fn&& run) {
  BALEEN_ASSIGN_OR_RETURN(double warm, run());
  (void)warm;
  std::vector<double> tps;
  for (int r = 0; r < reps; ++r) {
    BALEEN_ASSIGN_OR_RETURN(double v, run());
    tps.push_back(v);
  }
  return spread_of(std::move(tps));
}

std::string model_name(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.has_filename()) p = p.parent_path();  // "folder/"
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

double roofline_pct(double tps, double bytes_per_token, double bandwidth_gbs) {
  return bandwidth_gbs > 0 ? 100.0 * tps * bytes_per_token / 1e9 / bandwidth_gbs : 0.0;
}

// One batch size's decode: tokens/s, and the weights one step read: every non-routed tensor once,
// each sequence's embedding row, and the routed experts the step's tokens chose (each once, as
// counted by the model: BatchScratch::routed_expert_bytes), averaged over the steps.
struct BatchResult {
  int64_t b = 0;
  Spread tps;
  double bytes_per_step = 0;
  double routed_ratio = 0;   // routed-expert bytes per step / those of one token (1 at b = 1)
  double speedup_bound = 0;  // b x bytes per token / bytes_per_step: b sequences' bound over one's
};

// Weight bytes per step of b sequences whose routed experts read `routed_per_step` bytes.
double step_bytes(const WeightBytes& w, int64_t b, double routed_per_step) {
  const double fixed = static_cast<double>(w.per_token_bytes - w.routed_per_token_bytes - w.embedding_row_bytes);
  return fixed + static_cast<double>(b) * static_cast<double>(w.embedding_row_bytes) + routed_per_step;
}

// % of the bandwidth bound: b sequences at `tps` tokens/s in all take tps / b steps/s.
double batch_roofline_pct(const BatchResult& br, double bandwidth_gbs) {
  return roofline_pct(br.tps.median / static_cast<double>(br.b), br.bytes_per_step, bandwidth_gbs);
}

struct Results {
  std::string model;
  std::string arch;
  WeightBytes weights;
  int threads = 0;
  Bandwidth bandwidth;
  Spread pp, tg;
  Spread tg_bandwidth, roofline_paired;  // bandwidth measured just before each tg repetition, and each pair's %
  std::vector<BatchResult> batch;
  Spread load_s, first_token_s;
};

constexpr const char* kBatchNote =
    "batch B: B sequences decoding together, one batched forward (eval_batch) per step that reads every "
    "weight matrix once for all B tokens; batch_tps is their total tokens/s";
constexpr const char* kBatchBytesNote =
    "batch_bytes_per_step: weights one batched step read (non-routed tensors once, B embedding rows, and each "
    "routed expert the step's tokens chose once, as the model counted them; KV cache not counted); "
    "batch_roofline_pct: batch_tps / B x batch_bytes_per_step / bandwidth_gbs; batch_speedup_bound: the "
    "bandwidth bound of B sequences over that of one, B x bytes_per_token / batch_bytes_per_step";
constexpr const char* kLoadNote =
    "load: Model::load with the page cache warm (timed after the runs above read the weights); first token: "
    "from the start of Model::load through session creation and the logits of a one-token prompt";

// Weights that fit in the last-level cache are not streamed from DRAM each token: the roofline
// percentage then says little (it may exceed 100).
bool weights_fit_in_cache(const Results& r) {
  const uint64_t llc = last_level_cache_bytes();
  return llc > 0 && r.weights.per_token_bytes <= llc;
}

void print_json(const BenchOpts& o, const Results& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["arch"] = r.arch;
  j["model_size_bytes"] = r.weights.file_bytes;
  j["threads"] = r.threads;
  j["n_prompt"] = o.n_prompt;
  j["n_gen"] = o.n_gen;
  j["n_depth"] = o.depth;
  j["reps"] = o.reps;
  j["pp_tps"] = r.pp.median;
  j["pp_tps_spread"] = {r.pp.min, r.pp.max};
  j["tg_tps"] = r.tg.median;
  j["tg_tps_spread"] = {r.tg.min, r.tg.max};
  nlohmann::json batch = nlohmann::json::object(), batch_spread = nlohmann::json::object();
  nlohmann::json per_step = nlohmann::json::object(), roof = nlohmann::json::object();
  nlohmann::json bound = nlohmann::json::object();
  for (const BatchResult& br : r.batch) {
    const std::string key = std::to_string(br.b);
    batch[key] = br.tps.median;
    batch_spread[key] = {br.tps.min, br.tps.max};
    per_step[key] = br.bytes_per_step;
    roof[key] = batch_roofline_pct(br, r.bandwidth.gbs);
    bound[key] = br.speedup_bound;
  }
  j["batch_tps"] = batch;
  j["batch_tps_spread"] = batch_spread;
  j["batch_note"] = kBatchNote;
  j["batch_bytes_per_step"] = per_step;
  j["batch_roofline_pct"] = roof;
  j["batch_speedup_bound"] = bound;
  j["batch_bytes_note"] = kBatchBytesNote;
  j["routed_bytes_per_token"] = r.weights.routed_per_token_bytes;
  j["load_s"] = r.load_s.median;
  j["load_s_spread"] = {r.load_s.min, r.load_s.max};
  j["first_token_s"] = r.first_token_s.median;
  j["first_token_s_spread"] = {r.first_token_s.min, r.first_token_s.max};
  j["load_note"] = kLoadNote;
  j["bandwidth_gbs"] = r.bandwidth.gbs;
  j["bandwidth_gbs_spread"] = {r.bandwidth.min_gbs, r.bandwidth.max_gbs};
  j["bandwidth_threads"] = r.bandwidth.threads;
  j["bandwidth_buffer_bytes"] = r.bandwidth.buffer_bytes;
  j["bandwidth_prefetched"] = r.bandwidth.prefetched;
  j["bandwidth_plain_gbs"] = r.bandwidth.plain_gbs;
  j["bandwidth_huge_pages"] = r.bandwidth.huge_pages;
  j["bandwidth_small_pages_gbs"] = r.bandwidth.small_pages_gbs;
  j["bytes_per_token"] = r.weights.per_token_bytes;
  j["roofline_pct"] = roofline_pct(r.tg.median, r.weights.per_token_bytes, r.bandwidth.gbs);
  j["tg_bandwidth_gbs"] = r.tg_bandwidth.median;
  j["tg_bandwidth_gbs_spread"] = {r.tg_bandwidth.min, r.tg_bandwidth.max};
  j["roofline_pct_paired"] = r.roofline_paired.median;
  j["roofline_pct_paired_spread"] = {r.roofline_paired.min, r.roofline_paired.max};
  j["roofline_note"] =
      "roofline_pct: tg_tps x bytes_per_token / bandwidth_gbs (measured once, before pp); roofline_pct_paired: "
      "median over tg repetitions of that repetition's tokens/s x bytes_per_token / the bandwidth measured just "
      "before it (tg_bandwidth_gbs)";
  j["weights_fit_in_cache"] = weights_fit_in_cache(r);
  std::printf("%s\n", j.dump().c_str());
}

void print_row(const Results& r, const std::string& test, const Spread& s, const char* unit) {
  std::printf("| %-20s | %9s | %7d | %-18s | %10.2f | %10.2f | %10.2f | %-4s |\n", r.model.c_str(),
              human_bytes(r.weights.file_bytes).c_str(), r.threads, test.c_str(), s.median, s.min, s.max, unit);
}

void print_text(const BenchOpts& o, const Results& r) {
  std::printf("model: %s (%s), file %s, threads %d, %d repetitions after 1 warm-up\n", r.model.c_str(), r.arch.c_str(),
              human_bytes(r.weights.file_bytes).c_str(), r.threads, o.reps);
  std::printf(
      "weights read per decoded token: %s (non-expert tensors, shared and top-k routed experts, one "
      "embedding row; KV cache not counted)\n",
      human_bytes(r.weights.per_token_bytes).c_str());
  std::printf(
      "DRAM read bandwidth: %.2f GB/s (median of %d passes over %s, %d threads; %s, on %s pages; plain sum %.2f "
      "GB/s; 4 KiB pages %.2f GB/s)\n\n",
      r.bandwidth.gbs, r.bandwidth.passes, human_bytes(r.bandwidth.buffer_bytes).c_str(), r.bandwidth.threads,
      r.bandwidth.prefetched ? "sum with software prefetch, the faster" : "plain sum, the faster",
      r.bandwidth.huge_pages ? "2 MiB" : "4 KiB", r.bandwidth.plain_gbs, r.bandwidth.small_pages_gbs);
  std::printf("| %-20s | %9s | %7s | %-18s | %10s | %10s | %10s | %-4s |\n", "model", "size", "threads", "test",
              "median", "min", "max", "unit");
  std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: | %s |\n", std::string(20, '-').c_str(),
              std::string(8, '-').c_str(), std::string(6, '-').c_str(), std::string(18, '-').c_str(),
              std::string(9, '-').c_str(), std::string(9, '-').c_str(), std::string(9, '-').c_str(),
              std::string(4, '-').c_str());
  const std::string tg = "tg" + std::to_string(o.n_gen) + (o.depth > 0 ? " @ d" + std::to_string(o.depth) : "");
  print_row(r, "pp" + std::to_string(o.n_prompt), r.pp, "t/s");
  print_row(r, tg, r.tg, "t/s");
  for (const BatchResult& br : r.batch) print_row(r, "batch " + std::to_string(br.b) + " (" + tg + ")", br.tps, "t/s");
  print_row(r, "load", r.load_s, "s");
  print_row(r, "first token", r.first_token_s, "s");
  Spread bw{r.bandwidth.gbs, r.bandwidth.min_gbs, r.bandwidth.max_gbs};
  print_row(r, "bandwidth", bw, "GB/s");
  const uint64_t bpt = r.weights.per_token_bytes;
  Spread roof{roofline_pct(r.tg.median, bpt, bw.median), roofline_pct(r.tg.min, bpt, bw.median),
              roofline_pct(r.tg.max, bpt, bw.median)};
  print_row(r, "roofline " + tg, roof, "%");
  print_row(r, "bandwidth at " + tg, r.tg_bandwidth, "GB/s");
  print_row(r, "paired roof " + tg, r.roofline_paired, "%");
  for (const BatchResult& br : r.batch) {
    const double pct = batch_roofline_pct(br, bw.median);
    print_row(r, "batch " + std::to_string(br.b) + " roof", Spread{pct, pct, pct}, "%");
  }
  std::printf("\nroofline: %s tokens/s x %s per token / %.2f GB/s measured bandwidth\n", tg.c_str(),
              human_bytes(bpt).c_str(), bw.median);
  std::printf("paired roof: each %s repetition against the bandwidth measured just before it\n", tg.c_str());
  if (weights_fit_in_cache(r)) {
    std::printf(
        "note: the weights read per token fit in the %s last-level cache, so decode is not bound by DRAM "
        "bandwidth and the roofline percentage says little\n",
        human_bytes(last_level_cache_bytes()).c_str());
  }
  std::printf("note: %s\n", kBatchNote);
  for (const BatchResult& br : r.batch) {
    std::printf(
        "batch %lld: %s of weights per step (routed experts: %.2fx one token's), so at most %.2fx the tokens/s of one "
        "sequence at the same bandwidth\n",
        static_cast<long long>(br.b), human_bytes(static_cast<uint64_t>(br.bytes_per_step)).c_str(), br.routed_ratio,
        br.speedup_bound);
  }
  std::printf("note: %s\n", kLoadNote);
}

Status run_bench(const BenchOpts& o) {
  if (o.n_prompt <= 0) return Error(ErrorCode::kInvalidArgument, "-p must be > 0");
  if (o.n_gen <= 0) return Error(ErrorCode::kInvalidArgument, "-n must be > 0");
  if (o.reps <= 0) return Error(ErrorCode::kInvalidArgument, "-r must be > 0");
  if (o.depth < 0) return Error(ErrorCode::kInvalidArgument, "-d must be >= 0");
  BALEEN_ASSIGN_OR_RETURN(std::vector<int64_t> batches, parse_batch_list(o.batches));

  const int64_t need_ctx = std::max(o.n_prompt, o.depth + o.n_gen + 1);
  BALEEN_ASSIGN_OR_RETURN(LoadedModel lm, load_model(o.model, need_ctx));
  const ModelConfig& config = lm.model->config();
  const int64_t n_ctx = lm.session->n_ctx();
  if (o.n_prompt > n_ctx) {
    return make_error(ErrorCode::kOutOfRange, "-p %lld exceeds the context of %lld tokens",
                      static_cast<long long>(o.n_prompt), static_cast<long long>(n_ctx));
  }
  if (o.depth + o.n_gen + 1 > n_ctx) {
    return make_error(ErrorCode::kOutOfRange,
                      "-n %lld (after -d %lld and a one-token prompt) exceeds the context of %lld tokens",
                      static_cast<long long>(o.n_gen), static_cast<long long>(o.depth), static_cast<long long>(n_ctx));
  }
  if (config.n_vocab <= 0) return Error(ErrorCode::kInvalidArgument, "the model has no vocabulary size");

  Results r;
  r.model = model_name(o.model.model);
  r.arch = model_arch_name(config.arch);
  r.threads = lm.pool->size();
  BALEEN_ASSIGN_OR_RETURN(r.weights, weight_bytes_per_token(o.model.model, config));
  {
    ThreadPool bw_pool(0);  // every CPU: the machine's bandwidth, not this run's threads'
    BALEEN_ASSIGN_OR_RETURN(r.bandwidth, measure_read_bandwidth(bw_pool));
  }

  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int64_t> pick(0, config.n_vocab - 1);
  std::vector<TokenId> prompt(static_cast<size_t>(o.n_prompt));
  for (TokenId& id : prompt) id = static_cast<TokenId>(pick(rng));
  // The decode sessions' one-token prompts: distinct pseudo-random ids whatever -p is, so that B
  // sequences decode B different texts (from one shared id they would decode the same tokens and
  // route to the same experts, which no real batch does).
  std::vector<TokenId> firsts(static_cast<size_t>(*std::max_element(batches.begin(), batches.end())));
  for (TokenId& id : firsts) id = static_cast<TokenId>(pick(rng));
  std::vector<TokenId> context(static_cast<size_t>(o.depth));
  for (TokenId& id : context) id = static_cast<TokenId>(pick(rng));
  std::set<const Session*> holding;  // decode sessions that hold `context`

  std::vector<float> pp_logits;
  BALEEN_ASSIGN_OR_RETURN(r.pp, repeat(o.reps, [&] { return run_pp(*lm.session, prompt, &pp_logits); }));

  // Decode sessions hold n_gen + 1 tokens each; the loaded session serves as the first.
  const int64_t max_batch = *std::max_element(batches.begin(), batches.end());
  SessionOptions so;
  so.n_ctx = o.depth + o.n_gen + 1;
  so.attention = attention_form(o.model.attention);
  std::vector<std::unique_ptr<Session>> extra;
  std::vector<Session*> sessions = {lm.session.get()};
  for (int64_t i = 1; i < max_batch; ++i) {
    BALEEN_ASSIGN_OR_RETURN(std::unique_ptr<Session> s, Session::create(*lm.model, *lm.pool, so));
    sessions.push_back(s.get());
    extra.push_back(std::move(s));
  }
  std::vector<std::vector<float>> logits(static_cast<size_t>(max_batch));
  BatchScratch scratch;
  {
    // tg, each repetition right after a bandwidth measurement of its own: on a shared machine the
    // bandwidth available moves between seconds, so each tg is related to the bandwidth of its moment
    // (roofline_pct_paired: median over repetitions) as well as to the one at the start.
    ThreadPool bw_pool(0);
    const auto run_tg = [&] {
      return run_decode({sessions[0]}, firsts, o.n_gen, &logits, &scratch, context, &holding);
    };
    BALEEN_ASSIGN_OR_RETURN(double warm, run_tg());
    (void)warm;
    std::vector<double> tps, bw, pct;
    for (int rep = 0; rep < o.reps; ++rep) {
      BALEEN_ASSIGN_OR_RETURN(Bandwidth b, measure_read_bandwidth(bw_pool, 0, 3));
      BALEEN_ASSIGN_OR_RETURN(double v, run_tg());
      tps.push_back(v);
      bw.push_back(b.gbs);
      pct.push_back(roofline_pct(v, r.weights.per_token_bytes, b.gbs));
    }
    r.tg = spread_of(std::move(tps));
    r.tg_bandwidth = spread_of(std::move(bw));
    r.roofline_paired = spread_of(std::move(pct));
  }
  for (int64_t b : batches) {
    std::vector<Session*> group(sessions.begin(), sessions.begin() + b);
    const uint64_t steps0 = scratch.steps(), routed0 = scratch.routed_expert_bytes();
    BatchResult br;
    br.b = b;
    BALEEN_ASSIGN_OR_RETURN(br.tps, repeat(o.reps, [&] {
                              return run_decode(group, firsts, o.n_gen, &logits, &scratch, context, &holding);
                            }));
    const uint64_t steps = scratch.steps() - steps0;
    const double routed =
        steps > 0 ? static_cast<double>(scratch.routed_expert_bytes() - routed0) / static_cast<double>(steps) : 0.0;
    br.bytes_per_step = step_bytes(r.weights, b, routed);
    br.routed_ratio =
        r.weights.routed_per_token_bytes > 0 ? routed / static_cast<double>(r.weights.routed_per_token_bytes) : 0.0;
    br.speedup_bound = br.bytes_per_step > 0
                           ? static_cast<double>(b) * static_cast<double>(r.weights.per_token_bytes) / br.bytes_per_step
                           : 0.0;
    r.batch.push_back(br);
  }

  {
    // -r timed loads, after the runs above have read the weights (page cache warm).
    SessionOptions load_so;
    load_so.n_ctx = n_ctx;
    load_so.attention = so.attention;
    std::vector<double> load_s, first_s;
    for (int rep = 0; rep < o.reps; ++rep) {
      BALEEN_ASSIGN_OR_RETURN(LoadTimes t, time_load(o.model.model, *lm.pool, load_so, 0));
      load_s.push_back(t.load_s);
      first_s.push_back(t.first_token_s);
    }
    r.load_s = spread_of(std::move(load_s));
    r.first_token_s = spread_of(std::move(first_s));
  }

  if (o.json) {
    print_json(o, r);
  } else {
    print_text(o, r);
  }
  return ok_status();
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOpts>();
  auto* sub = app.add_subcommand("bench", "Measure prompt (pp), generation (tg) and batch decode tokens/s");
  add_model_options(sub, &o->model);
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens for pp")->capture_default_str();
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens for tg and batch")->capture_default_str();
  sub->add_option("-d,--depth", o->depth,
                  "context tokens held before tg and batch decoding (prefilled once, not timed)")
      ->capture_default_str();
  sub->add_option("-b,--batch", o->batches, "concurrent sequences, comma-separated")->capture_default_str();
  sub->add_option("-r,--repetitions", o->reps, "timed repetitions after one warm-up")->capture_default_str();
  sub->add_flag("--json", o->json, "print one JSON object instead of the table");
  return [o]() -> int {
    Status st = run_bench(*o);
    if (!st.ok()) {
      std::fflush(stdout);
      print_error("bench", st.error());
      return 1;
    }
    return 0;
  };
}

}  // namespace baleen::cli
