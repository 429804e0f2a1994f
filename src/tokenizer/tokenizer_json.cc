// Loading a byte-level BPE tokenizer from Hugging Face tokenizer.json (+ tokenizer_config.json).
// Field meanings follow HF `tokenizers` serialization (models/bpe/serialization.rs, pre_tokenizers,
// normalizers, processors/template.rs) and transformers' tokenizer_config.json keys.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "tokenizer/bpe.h"

namespace baleen {
namespace {

using nlohmann::json;

constexpr size_t kMaxVocab = 1u << 24;  // ids beyond this are certainly a corrupt file

Error bad(const char* fmt, const std::string& what) { return make_error(ErrorCode::kCorruptFile, fmt, what.c_str()); }

bool get_bool(const json& obj, const char* key, bool def) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_boolean()) return def;
  return it->get<bool>();
}

std::string type_of(const json& obj) {
  auto it = obj.find("type");
  return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

// ---- model ----

Status parse_vocab(const json& vocab, std::vector<std::string>* out) {
  if (!vocab.is_object()) return bad("tokenizer.json: %s is not an object", "model.vocab");
  out->clear();
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) return bad("tokenizer.json: vocab entry '%s' has a non-integer id", it.key());
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || static_cast<uint64_t>(id) >= kMaxVocab)
      return bad("tokenizer.json: vocab entry '%s' has an out-of-range id", it.key());
    if (static_cast<size_t>(id) >= out->size()) out->resize(static_cast<size_t>(id) + 1);
    (*out)[static_cast<size_t>(id)] = it.key();
  }
  return ok_status();
}

Status parse_merges(const json& merges, std::vector<std::pair<std::string, std::string>>* out) {
  if (merges.is_null()) return ok_status();
  if (!merges.is_array()) return bad("tokenizer.json: %s is not an array", "model.merges");
  out->reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {  // "left right"; a token may itself start with a space, so search from 1
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
      if (sp == std::string::npos || sp + 1 >= s.size())
        return bad("tokenizer.json: merge '%s' is not 'left right'", s);
      out->emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out->emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return bad("tokenizer.json: merge #%s is neither \"a b\" nor [a, b]", std::to_string(i));
    }
  }
  return ok_status();
}

Status parse_model(const json& root, BpeTokenizerConfig* cfg) {
  auto mit = root.find("model");
  if (mit == root.end() || !mit->is_object()) return bad("tokenizer.json: %s", "missing 'model'");
  const json& model = *mit;
  std::string type = type_of(model);
  if (!type.empty() && type != "BPE") {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: model type '%s' is not supported (only BPE)",
                      type.c_str());
  }
  if (!model.contains("vocab")) return bad("tokenizer.json: %s", "model has no 'vocab'");
  if (type.empty() && !model.contains("merges")) {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: model without a type or merges is not BPE");
  }
  BALEEN_TRY(parse_vocab(model["vocab"], &cfg->vocab));
  if (model.contains("merges")) BALEEN_TRY(parse_merges(model["merges"], &cfg->merges));
  cfg->ignore_merges = get_bool(model, "ignore_merges", false);
  cfg->byte_fallback = get_bool(model, "byte_fallback", false);
  if (auto u = model.find("unk_token"); u != model.end() && u->is_string()) cfg->unk_token = u->get<std::string>();
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return make_error(ErrorCode::kUnsupported, "tokenizer.json: BPE %s is not supported", key);
    }
  }
  if (auto d = model.find("dropout"); d != model.end() && d->is_number() && d->get<double>() > 0.0) {
    return make_error(ErrorCode::kUnsupported, "tokenizer.json: BPE dropout is not supported");
  }
  return ok_status();
}

Status parse_added_tokens(const json& root, BpeTokenizerConfig* cfg) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return ok_status();
  if (!it->is_array()) return bad("tokenizer.json: %s is not an array", "added_tokens");
  for (const json& t : *it) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string()) {
      return bad("tokenizer.json: %s", "an added_tokens entry lacks an integer 'id' or a string 'content'");
    }
    AddedToken a;
    int64_t id = t["id"].get<int64_t>();
    a.content = t["content"].get<std::string>();
    if (id < 0 || static_cast<uint64_t>(id) >= kMaxVocab)
      return bad("tokenizer.json: added token '%s' has an out-of-range id", a.content);
    a.id = static_cast<TokenId>(id);
    a.special = get_bool(t, "special", false);
    a.normalized = get_bool(t, "normalized", !a.special);
    a.lstrip = get_bool(t, "lstrip", false);
    a.rstrip = get_bool(t, "rstrip", false);
    a.single_word = get_bool(t, "single_word", false);
    cfg->added.push_back(std::move(a));
  }
  return ok_status();
}

// ---- normalizer ----

Status parse_normalizer(const json& n, NormalizerKind* kind) {
  if (n.is_null()) return ok_status();
  std::string type = type_of(n);
  if (type == "Sequence") {
    auto it = n.find("normalizers");
    if (it == n.end() || !it->is_array()) return bad("tokenizer.json: %s", "normalizer Sequence without 'normalizers'");
    for (const json& sub : *it) BALEEN_TRY(parse_normalizer(sub, kind));
    return ok_status();
  }
  if (type == "NFC") {
    *kind = NormalizerKind::kNfc;
    return ok_status();
  }
  return make_error(ErrorCode::kUnsupported,
                    "tokenizer.json: normalizer '%s' is not supported (supported: NFC, Sequence)",
                    type.empty() ? "(no type)" : type.c_str());
}

// ---- pre-tokenizer ----

struct PreState {
  bool saw_byte_level = false;
  size_t steps = 0;  // pre-tokenizer steps seen so far
};

std::string escape_literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ \t\n\r").find(c) != std::string_view::npos) {
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      if (c == '\r') {
        out += "\\r";
        continue;
      }
      if (c == '\t') {
        out += "\\t";
        continue;
      }
      out += '\\';
    }
    out += c;
  }
  return out;
}

Result<SplitBehavior> parse_behavior(const json& p) {
  auto it = p.find("behavior");
  std::string b = (it != p.end() && it->is_string()) ? it->get<std::string>() : "Isolated";
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  return make_error(ErrorCode::kUnsupported, "tokenizer.json: Split behavior '%s' is not supported", b.c_str());
}

Status parse_pre_tokenizer(const json& p, BpeTokenizerConfig* cfg, PreState* st) {
  if (p.is_null()) return ok_status();
  std::string type = type_of(p);
  if (type == "Sequence") {
    auto it = p.find("pretokenizers");
    if (it == p.end() || !it->is_array())
      return bad("tokenizer.json: %s", "pre_tokenizer Sequence without 'pretokenizers'");
    for (const json& sub : *it) BALEEN_TRY(parse_pre_tokenizer(sub, cfg, st));
    return ok_status();
  }
  if (type == "Split") {
    auto pat = p.find("pattern");
    if (pat == p.end() || !pat->is_object())
      return bad("tokenizer.json: %s", "Split pre-tokenizer without a 'pattern'");
    std::string regex;
    if (pat->contains("Regex") && (*pat)["Regex"].is_string()) {
      regex = (*pat)["Regex"].get<std::string>();
    } else if (pat->contains("String") && (*pat)["String"].is_string()) {
      regex = escape_literal((*pat)["String"].get<std::string>());
    } else {
      return bad("tokenizer.json: %s", "Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
    }
    BALEEN_ASSIGN_OR_RETURN(SplitBehavior behavior, parse_behavior(p));
    Status s = cfg->pre_tokenizer.add_split(regex, behavior, get_bool(p, "invert", false));
    if (!s.ok()) return s.error().with_context("tokenizer.json: Split pre-tokenizer");
    ++st->steps;
    return ok_status();
  }
  if (type == "ByteLevel") {
    if (get_bool(p, "add_prefix_space", false)) {
      if (st->steps > 0) {
        return make_error(ErrorCode::kUnsupported,
                          "tokenizer.json: ByteLevel add_prefix_space after other pre-tokenizers is not supported");
      }
      cfg->add_prefix_space = true;
    }
    if (get_bool(p, "use_regex", true)) {
      BALEEN_TRY(cfg->pre_tokenizer.add_split(kGpt2Pattern, SplitBehavior::kIsolated, false));
    }
    st->saw_byte_level = true;
    ++st->steps;
    return ok_status();
  }
  if (type == "Digits") {  // HF: char::is_numeric runs, one per digit when individual_digits
    bool individual = get_bool(p, "individual_digits", false);
    BALEEN_TRY(cfg->pre_tokenizer.add_split(individual ? "\\p{N}" : "\\p{N}+", SplitBehavior::kIsolated, false));
    ++st->steps;
    return ok_status();
  }
  return make_error(ErrorCode::kUnsupported, "tokenizer.json: pre_tokenizer type '%s' is not supported",
                    type.empty() ? "(no type)" : type.c_str());
}

// ---- post-processor (only what decides BOS/EOS) ----

struct TemplateInfo {
  std::optional<TokenId> leading;   // special token before $A in "single"
  std::optional<TokenId> trailing;  // special token after $A
};

void parse_post_processor(const json& p, TemplateInfo* info) {
  if (!p.is_object()) return;
  std::string type = type_of(p);
  if (type == "Sequence") {
    if (auto it = p.find("processors"); it != p.end() && it->is_array()) {
      for (const json& sub : *it) parse_post_processor(sub, info);
    }
    return;
  }
  if (type != "TemplateProcessing") return;  // ByteLevel only trims offsets
  auto single = p.find("single");
  auto specials = p.find("special_tokens");
  if (single == p.end() || !single->is_array() || specials == p.end() || !specials->is_object()) return;
  bool seen_sequence = false;
  for (const json& piece : *single) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!piece.contains("SpecialToken")) continue;
    const json& st = piece["SpecialToken"];
    if (!st.contains("id") || !st["id"].is_string()) continue;
    auto sp = specials->find(st["id"].get<std::string>());
    if (sp == specials->end() || !sp->contains("ids") || !(*sp)["ids"].is_array() || (*sp)["ids"].empty()) continue;
    const json& first = (*sp)["ids"][0];
    if (!first.is_number_integer()) continue;
    TokenId id = static_cast<TokenId>(first.get<int64_t>());
    (seen_sequence ? info->trailing : info->leading) = id;
  }
}

// tokenizer_config.json token fields are a string or {"content": ...}.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

Result<std::unique_ptr<Tokenizer>> build(const json& root, const json& tcfg) {
  if (!root.is_object()) return bad("tokenizer.json: %s", "top level is not an object");
  BpeTokenizerConfig cfg;
  BALEEN_TRY(parse_model(root, &cfg));
  BALEEN_TRY(parse_added_tokens(root, &cfg));
  if (auto it = root.find("normalizer"); it != root.end()) BALEEN_TRY(parse_normalizer(*it, &cfg.normalizer));
  PreState st;
  if (auto it = root.find("pre_tokenizer"); it != root.end()) BALEEN_TRY(parse_pre_tokenizer(*it, &cfg, &st));
  if (!st.saw_byte_level) {
    return make_error(ErrorCode::kUnsupported,
                      "tokenizer.json: BPE without a ByteLevel pre-tokenizer is not supported");
  }
  TemplateInfo tmpl;
  if (auto it = root.find("post_processor"); it != root.end()) parse_post_processor(*it, &tmpl);

  BALEEN_ASSIGN_OR_RETURN(auto tok, BpeTokenizer::create(std::move(cfg)));
  SpecialTokenIds sp;
  auto lookup = [&](const std::optional<std::string>& s) -> TokenId {
    if (!s) return -1;
    auto id = tok->token_id(*s);
    return id ? *id : -1;
  };
  sp.bos = tmpl.leading.value_or(-1);
  sp.eos = tmpl.trailing.value_or(-1);
  sp.add_bos = tmpl.leading.has_value();
  sp.add_eos = tmpl.trailing.has_value();
  if (tcfg.is_object()) {
    if (TokenId id = lookup(config_token(tcfg, "bos_token")); id >= 0) sp.bos = id;
    if (TokenId id = lookup(config_token(tcfg, "eos_token")); id >= 0) sp.eos = id;
    sp.pad = lookup(config_token(tcfg, "pad_token"));
    sp.unk = lookup(config_token(tcfg, "unk_token"));
    sp.add_bos = get_bool(tcfg, "add_bos_token", sp.add_bos);
    sp.add_eos = get_bool(tcfg, "add_eos_token", sp.add_eos);
  }
  if (const json& m = root["model"]; sp.unk < 0 && m.contains("unk_token") && m["unk_token"].is_string()) {
    sp.unk = lookup(m["unk_token"].get<std::string>());
  }
  if (sp.bos < 0) sp.add_bos = false;
  if (sp.eos < 0) sp.add_eos = false;
  tok->set_special_ids(sp);
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_tokenizer_json_text(std::string_view tokenizer_json,
                                                                       std::string_view config_json) {
  // nlohmann::json reports through exceptions; none may leave this module.
  try {
    json root = json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return make_error(ErrorCode::kCorruptFile, "tokenizer.json: not valid JSON");
    json tcfg;
    if (!config_json.empty()) {
      tcfg = json::parse(config_json, nullptr, false);
      if (tcfg.is_discarded()) return make_error(ErrorCode::kCorruptFile, "tokenizer_config.json: not valid JSON");
    }
    return build(root, tcfg);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kCorruptFile, "tokenizer.json: %s", e.what());
  }
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_tokenizer_json(const std::string& path) {
  auto text = read_file(path);
  if (!text.ok()) return text.error();
  std::string config;
  std::filesystem::path cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(cfg_path, ec)) {
    auto c = read_file(cfg_path.string());
    if (!c.ok()) return c.error();
    config = std::move(c).value();
  }
  auto tok = from_tokenizer_json_text(*text, config);
  if (!tok.ok()) return tok.error().with_context(path);
  return tok;
}

}  // namespace baleen
