//===- ConfigImporter.cpp - a ModelSpec from a Hugging Face config.json ---===//
//
// The mapping follows the transformers configuration classes and modeling code of each architecture
// (defaults included, since a config.json may leave a field out and get the class default). Fields are
// read with llvm::json; a small scanner of the same text maps each JSON path to its byte offset, so that
// every error points at its value with a caret, although llvm::json keeps no positions.
//
//===----------------------------------------------------------------------===//
#include "frontend/hf/ConfigImporter.h"
#include "runtime/src/JsonDepth.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"

#include <cmath>
#include <map>
#include <tuple>

using namespace xf;
using llvm::SMLoc;
using llvm::StringRef;
namespace json = llvm::json;

namespace {

constexpr int kMaxJsonDepth = 64;

//===----------------------------------------------------------------------===//
// Where each JSON value is
//===----------------------------------------------------------------------===//

/// Byte offsets of the values of a JSON text, by path (`rope_scaling.factor`, `layer_types[3]`). Runs
/// on text that llvm::json already accepted, but never reads past the end whatever the text is.
class JsonPositions {
public:
  explicit JsonPositions(StringRef text) : text(text) {
    skipSpace();
    value("", 0);
  }
  std::optional<size_t> find(StringRef path) const {
    auto it = offsets.find(path.str());
    if (it == offsets.end())
      return std::nullopt;
    return it->second;
  }

private:
  bool more() const { return pos < text.size(); }
  void skipSpace() {
    while (more() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  std::string string() {
    std::string s;
    ++pos; // "
    while (more() && text[pos] != '"') {
      if (text[pos] == '\\' && pos + 1 < text.size()) {
        char c = text[pos + 1];
        s += c == 'n' ? '\n' : c == 't' ? '\t' : c;
        pos += 2;
        continue;
      }
      s += text[pos++];
    }
    if (more())
      ++pos;
    return s;
  }
  void value(const std::string &path, int depth) {
    if (!more() || depth > kMaxJsonDepth)
      return;
    offsets[path] = pos;
    char c = text[pos];
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++pos;
      for (size_t index = 0;; ++index) {
        skipSpace();
        if (!more())
          return;
        if (text[pos] == close) {
          ++pos;
          return;
        }
        std::string child;
        if (c == '{') {
          if (text[pos] != '"')
            return;
          std::string key = string();
          child = path.empty() ? key : path + "." + key;
          skipSpace();
          if (!more() || text[pos] != ':')
            return;
          ++pos;
          skipSpace();
        } else {
          child = path + "[" + std::to_string(index) + "]";
        }
        size_t before = pos;
        value(child, depth + 1);
        if (pos == before)
          return;
        skipSpace();
        if (more() && text[pos] == ',')
          ++pos;
      }
    }
    if (c == '"') {
      string();
      return;
    }
    while (more() && !StringRef(",}] \t\r\n").contains(text[pos]))
      ++pos;
  }

  StringRef text;
  size_t pos = 0;
  std::map<std::string, size_t> offsets;
};


//===----------------------------------------------------------------------===//
// Architectures
//===----------------------------------------------------------------------===//

enum class SlidingStyle {
  None,        // no sliding window
  AllLayers,   // sliding_window applies to every layer (Mistral, Mixtral, Phi-3)
  Qwen,        // use_sliding_window: layers >= max_window_layers slide; or layer_types
  Alternating, // layer_types, by default even layers slide (Gemma 2, gpt-oss)
  Pattern,     // layer_types, by default every sliding_window_pattern-th layer is full (Gemma 3)
  WindowLayers, // layer_types, by default the layers from max_window_layers on slide (Dots1: no switch)
};

struct Architecture {
  StringRef name, modelType;
  double ropeTheta, rmsEps;
  bool tieEmbeddings;
  StringRef activation;
  int64_t headDim;             // default head_dim; 0: hidden / heads
  bool headDimKey;             // the class reads head_dim
  SlidingStyle sliding;
  std::optional<int64_t> slidingWindow; // the class default
  int64_t maxPosition;
  bool attentionBiasKey;       // the class reads attention_bias
  bool attentionBias;          // its default
  bool moe;
  int64_t experts, topK;       // MoE defaults; 0: the config must give them
};

const Architecture kArchitectures[] = {
    {"LlamaForCausalLM", "llama", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::None, std::nullopt, 2048,
     true, false, false, 0, 0},
    {"MistralForCausalLM", "mistral", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::AllLayers, 4096, 131072,
     false, false, false, 0, 0},
    {"Qwen2ForCausalLM", "qwen2", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::Qwen, 4096, 32768, false,
     false, false, 0, 0},
    {"Qwen3ForCausalLM", "qwen3", 10000.0, 1e-6, false, "silu", 128, true, SlidingStyle::Qwen, 4096, 32768, true,
     false, false, 0, 0},
    {"GemmaForCausalLM", "gemma", 10000.0, 1e-6, true, "gelu_pytorch_tanh", 256, true, SlidingStyle::None,
     std::nullopt, 8192, true, false, false, 0, 0},
    {"Gemma2ForCausalLM", "gemma2", 10000.0, 1e-6, true, "gelu_pytorch_tanh", 256, true, SlidingStyle::Alternating,
     4096, 8192, true, false, false, 0, 0},
    {"Gemma3ForCausalLM", "gemma3_text", 1e6, 1e-6, true, "gelu_pytorch_tanh", 256, true, SlidingStyle::Pattern,
     4096, 131072, true, false, false, 0, 0},
    // The language models of multimodal checkpoints: text_config holds their fields. Gemma 3's (4B and up)
    // has this row's defaults; Mistral 3's (Mistral Small 3.1 and up) is a MistralForCausalLM.
    {"Gemma3ForConditionalGeneration", "gemma3", 1e6, 1e-6, true, "gelu_pytorch_tanh", 256, true,
     SlidingStyle::Pattern, 4096, 131072, true, false, false, 0, 0},
    {"Mistral3ForConditionalGeneration", "mistral3", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::AllLayers,
     4096, 131072, false, false, false, 0, 0},
    // Granite: Llama with four multipliers (embedding, attention scale, residual, logits).
    {"GraniteForCausalLM", "granite", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::None, std::nullopt, 2048,
     true, false, false, 0, 0},
    // Granite MoE: Granite's multipliers, a mixture of experts in every layer (softmax over the top-k
    // logits), the experts' projections stacked in three tensors.
    {"GraniteMoeForCausalLM", "granitemoe", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::None, std::nullopt,
     2048, true, false, true, 8, 2},
    // OLMo 2: norms after each block (none before), q/k norms over each token's whole projections.
    {"Olmo2ForCausalLM", "olmo2", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::None, std::nullopt, 2048, true,
     false, false, 0, 0},
    // StableLM (2): LayerNorm with biases, a quarter of each head rotated, q/k/v biases with use_qkv_bias.
    {"StableLmForCausalLM", "stablelm", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::None, std::nullopt, 4096,
     false, false, false, 0, 0},
    // Starcoder 2: LayerNorm, biases on every projection (use_bias), an MLP without a gate (c_fc, c_proj).
    {"Starcoder2ForCausalLM", "starcoder2", 10000.0, 1e-5, true, "gelu_pytorch_tanh", 0, true, SlidingStyle::AllLayers,
     std::nullopt, 4096, false, false, false, 0, 0},
    // Phi (1, 1.5, 2): attention and an MLP without a gate side by side after one LayerNorm, biases on every
    // projection and the lm_head, partial rotary.
    {"PhiForCausalLM", "phi", 10000.0, 1e-5, false, "gelu_new", 0, false, SlidingStyle::None, std::nullopt, 2048, false,
     false, false, 0, 0},
    // GPT-NeoX (Pythia): attention and an MLP without a gate side by side, each after its own LayerNorm
    // (use_parallel_residual), q, k and v of each head in one projection, a quarter of each head rotated.
    {"GPTNeoXForCausalLM", "gpt_neox", 10000.0, 1e-5, false, "gelu", 0, false, SlidingStyle::None, std::nullopt, 2048,
     true, true, false, 0, 0},
    // GLM (4): Llama's blocks with q/k/v biases (none on o_proj), one gate_up_proj, half of each head rotated
    // in adjacent pairs (interleaved RoPE).
    {"GlmForCausalLM", "glm", 10000.0, 1.5625e-7, false, "silu", 128, true, SlidingStyle::None, std::nullopt, 131072,
     true, true, false, 0, 0},
    // GLM-4 (0414): GLM's attention and MLP with norms after them too (sandwich).
    {"Glm4ForCausalLM", "glm4", 10000.0, 1.5625e-7, false, "silu", 128, true, SlidingStyle::None, std::nullopt, 131072,
     true, true, false, 0, 0},
    // Cohere (Command R): attention and MLP side by side after one LayerNorm without bias, RoPE in adjacent
    // pairs, tied embeddings, the logits scaled (logit_scale).
    {"CohereForCausalLM", "cohere", 10000.0, 1e-5, true, "silu", 0, false, SlidingStyle::None, std::nullopt, 8192, true,
     false, false, 0, 0},
    // Arcee (AFM-4.5B): Llama with an MLP without a gate, up_proj then relu2 (relu(x)^2) then down_proj.
    {"ArceeForCausalLM", "arcee", 10000.0, 1e-5, false, "relu2", 0, true, SlidingStyle::None, std::nullopt, 4096, true,
     false, false, 0, 0},
    // Nemotron (Nemotron-4, Minitron, Nemotron-Mini): LayerNorms whose gains are stored minus one
    // (LayerNorm1P), RoPE on half of each head, an MLP without a gate (up_proj, relu2, down_proj).
    {"NemotronForCausalLM", "nemotron", 10000.0, 1e-5, false, "relu2", 0, true, SlidingStyle::None, std::nullopt,
     4096, true, false, false, 0, 0},
    // Cohere 2 (Command R7B, Command A): Cohere's block, sliding layers every sliding_window_pattern - 1 of
    // sliding_window_pattern, RoPE on the sliding layers only (the others NoPE), no q/k norms.
    {"Cohere2ForCausalLM", "cohere2", 10000.0, 1e-5, true, "silu", 0, false, SlidingStyle::Pattern, 4096, 8192, true,
     false, false, 0, 0},
    // GPT-2: learned absolute positions and no RoPE, Conv1D weights ([in, out]), one c_attn for q, k and v,
    // LayerNorms with biases, an MLP without a gate, tied embeddings.
    {"GPT2LMHeadModel", "gpt2", 10000.0, 1e-5, true, "gelu_new", 0, false, SlidingStyle::None, std::nullopt, 1024,
     false, false, false, 0, 0},
    {"SmolLM3ForCausalLM", "smollm3", 2e6, 1e-6, true, "silu", 0, true, SlidingStyle::None, std::nullopt, 32768,
     true, false, false, 0, 0},
    {"Phi3ForCausalLM", "phi3", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::AllLayers, std::nullopt, 4096,
     false, false, false, 0, 0},
    {"MixtralForCausalLM", "mixtral", 1e6, 1e-5, false, "silu", 0, true, SlidingStyle::AllLayers, std::nullopt,
     131072, false, false, true, 8, 2},
    // Qwen2-MoE: Qwen 2's attention, Qwen3-MoE's routing, and a shared expert gated per token.
    {"Qwen2MoeForCausalLM", "qwen2_moe", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::Qwen, 4096, 32768,
     false, false, true, 60, 4},
    {"Qwen3MoeForCausalLM", "qwen3_moe", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::Qwen, 4096, 32768,
     true, false, true, 128, 8},
    // Helium: Llama's blocks with RoPE over whole heads in adjacent pairs, attention_bias on q, k and v only
    // (o_proj maps hidden to hidden without one).
    {"HeliumForCausalLM", "helium", 100000.0, 1e-8, false, "silu", 128, true, SlidingStyle::None, std::nullopt,
     4096, true, false, false, 0, 0},
    // OLMo 3: OLMo 2 with three sliding layers in four (the fourth full).
    {"Olmo3ForCausalLM", "olmo3", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::Pattern, 4096, 2048, true,
     false, false, 0, 0},
    // EXAONE 4.0: OLMo 2's norms after attention and MLP, Qwen 3's per-head q/k norms, by default three
    // sliding layers in four with the fourth attending to everything without RoPE (NoPE).
    {"Exaone4ForCausalLM", "exaone4", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::Pattern, 4096, 2048,
     false, false, false, 0, 0},
    // Seed-OSS: Llama's blocks with head_dim 128 given, biases on q, k and v (attention_bias) and on o_proj only
    // with attention_out_bias.
    {"SeedOssForCausalLM", "seed_oss", 10000.0, 1e-6, false, "silu", 128, true, SlidingStyle::None, std::nullopt,
     524288, true, true, false, 0, 0},
    // ERNIE 4.5 (dense): Llama's blocks with RoPE over whole heads in adjacent pairs (GLM's form), biases on
    // every projection with use_bias.
    {"Ernie4_5ForCausalLM", "ernie4_5", 500000.0, 1e-5, true, "silu", 128, true, SlidingStyle::None, std::nullopt,
     131072, false, false, false, 0, 0},
    // OLMoE: Llama's pre-norm blocks, OLMo 2's q/k norms over the whole projections, every MLP a mixture of
    // experts routed as Qwen3-MoE's (softmax over all, top-k, not renormalized by default).
    {"OlmoeForCausalLM", "olmoe", 10000.0, 1e-5, false, "silu", 0, false, SlidingStyle::None, std::nullopt, 4096,
     true, false, true, 64, 8},
    {"GptOssForCausalLM", "gpt_oss", 150000.0, 1e-5, false, "silu", 64, true, SlidingStyle::Alternating, 128,
     131072, true, true, true, 128, 4},
    // GLM-4.5: Llama's pre-norm blocks with q/k/v biases (attention_bias), optional per-head q/k norms,
    // RoPE over half of each head, dense first layers, then sigmoid-routed experts with a selection bias,
    // a group limit, a routed scale and shared experts.
    {"Glm4MoeForCausalLM", "glm4_moe", 10000.0, 1e-5, false, "silu", 0, true, SlidingStyle::None, std::nullopt,
     131072, true, false, true, 128, 8},
    // dots.llm1: Qwen 3's attention (q/k norms per head, attention_bias on all four projections) with
    // DeepSeek-V3's mixture, GLM-4.5's routing. Expert counts have no class default.
    {"Dots1ForCausalLM", "dots1", 10000.0, 1e-6, false, "silu", 0, true, SlidingStyle::WindowLayers, 4096, 2048,
     true, false, true, 0, 0},
    // Phi-3.5-MoE: Mixtral's blocks with LayerNorms (biases, eps rms_norm_eps), biases on q, k, v and o
    // (attention_bias) and the lm_head (lm_head_bias), SparseMixer routing.
    {"PhimoeForCausalLM", "phimoe", 1e6, 1e-5, false, "silu", 0, true, SlidingStyle::AllLayers, std::nullopt, 131072,
     true, false, true, 16, 2},
    // ERNIE 4.5 MoE: ERNIE 4.5's attention, dense layers outside moe_layer_start_index..end_index every
    // moe_layer_interval, softmax routing chosen with a correction bias, shared experts.
    {"Ernie4_5_MoeForCausalLM", "ernie4_5_moe", 500000.0, 1e-5, true, "silu", 0, true, SlidingStyle::None,
     std::nullopt, 131072, false, false, true, 64, 6},
    // DeepSeek-V3 and R1: multi-head latent attention (readLatentAttention), then
    // GLM-4.5's mixture (readDeepSeekMoe). attention_bias is on q_a_proj, kv_a_proj_with_mqa and o_proj.
    {"DeepseekV3ForCausalLM", "deepseek_v3", 10000.0, 1e-6, false, "silu", 0, false, SlidingStyle::None,
     std::nullopt, 4096, true, false, true, 256, 8},
};

const StringRef kArchitectureNames[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                                        "Qwen3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM",
                                        "Gemma3ForCausalLM", "Gemma3ForConditionalGeneration", "GraniteForCausalLM",
                                        "Olmo2ForCausalLM", "StableLmForCausalLM", "Starcoder2ForCausalLM",
                                        "PhiForCausalLM", "GPTNeoXForCausalLM", "GlmForCausalLM", "Glm4ForCausalLM",
                                        "CohereForCausalLM", "GPT2LMHeadModel", "SmolLM3ForCausalLM", "Phi3ForCausalLM",
                                        "MixtralForCausalLM", "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM",
                                        "GraniteMoeForCausalLM", "GptOssForCausalLM", "OlmoeForCausalLM",
                                        "Ernie4_5ForCausalLM", "Exaone4ForCausalLM", "SeedOssForCausalLM",
                                        "Olmo3ForCausalLM", "HeliumForCausalLM", "Glm4MoeForCausalLM",
                                        "Dots1ForCausalLM", "Ernie4_5_MoeForCausalLM", "PhimoeForCausalLM",
                                        "DeepseekV3ForCausalLM", "Cohere2ForCausalLM", "ArceeForCausalLM",
                                        "NemotronForCausalLM", "Mistral3ForConditionalGeneration"};

/// Fields that do not change what the model computes at inference: identity, token ids, generation
/// defaults, dropout, initialization, training-only router losses, caching hints, remote code.
const StringRef kNoMathFields[] = {
    "_name_or_path", "transformers_version", "architectures", "model_type", "use_cache", "bos_token_id",
    "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "initializer_range",
    "attention_dropout", "embd_pdrop", "resid_pdrop", "hidden_dropout", "hidden_dropout_prob", "residual_dropout",
    "embedding_dropout", "output_router_logits", "router_aux_loss_coef", "router_jitter_noise", "auto_map",
    "tokenizer_class", "classifier_dropout",
    "cache_implementation", "initial_context_length", "return_dict", "output_hidden_states",
    "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss", "pruned_heads",
    "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "add_cross_attention",
    "tie_encoder_decoder", "id2label", "label2id", "problem_type", "finetuning_task", "task_specific_params",
    "prefix", "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
    "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens", "_attn_implementation", "attn_implementation", "_attn_implementation_autoset",
    // Tensor-parallel matmul splitting (Llama): the same products, summed in another order.
    "pretraining_tp"};

/// `v` rounded to the nearest value of `type` (round to nearest even), as a torch.tensor(v, dtype) is.
double roundToDType(double v, DType type) {
  if (type == DType::F32)
    return static_cast<float>(v);
  int mantissaBits = type == DType::BF16 ? 8 : 11; // significant bits, the implicit one included
  int exponent;
  double fraction = std::frexp(v, &exponent); // v = fraction * 2^exponent, fraction in [0.5, 1)
  double scaled = std::ldexp(fraction, mantissaBits);
  return std::ldexp(std::nearbyint(scaled), exponent - mantissaBits);
}

std::string sanitize(StringRef name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? char(std::tolower(c)) : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    s = "model_" + s;
  return s;
}

//===----------------------------------------------------------------------===//
// The importer
//===----------------------------------------------------------------------===//

class Importer {
public:
  Importer(llvm::SourceMgr &sm, unsigned bufferId)
      : sm(sm), buffer(sm.getMemoryBuffer(bufferId)->getBuffer()), positions(StringRef()) {}

  std::optional<ModelSpec> run() {
    if (xf::jsonDepth(buffer) > kMaxJsonDepth) {
      report(0, "the JSON is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      flush();
      return std::nullopt;
    }
    llvm::Expected<json::Value> parsed = json::parse(buffer);
    if (!parsed) {
      // "[line:col, byte=N]: message"
      std::string message = llvm::toString(parsed.takeError());
      llvm::SmallVector<StringRef> m;
      if (llvm::Regex("^\\[[0-9]+:[0-9]+, byte=([0-9]+)\\]: (.*)$").match(message, &m)) {
        size_t offset = 0;
        m[1].getAsInteger(10, offset);
        report(std::min(offset, buffer.size()), "invalid JSON: " + m[2].str());
      } else {
        report(0, "invalid JSON: " + message);
      }
      flush();
      return std::nullopt;
    }
    positions = JsonPositions(buffer);
    root = parsed->getAsObject();
    if (!root) {
      report(0, "a config.json holds one JSON object");
      flush();
      return std::nullopt;
    }
    std::optional<ModelSpec> m = importModel();
    if (!flush() || !m)
      return std::nullopt;
    return m;
  }

private:
  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//
  void report(size_t offset, const std::string &message) { problems.push_back({offset, message}); }
  /// An error at the value of `path` (or at the start if it has none), prefixed with the path unless
  /// the message names it.
  void error(StringRef path, const llvm::Twine &message, bool prefix = true) {
    // Paths are relative to the object being read (text_config within a multimodal config).
    path = keyOf(path);
    std::string full = path.empty() ? StringRef(scope).drop_back(scope.empty() ? 0 : 1).str() : scope + path.str();
    size_t offset = positions.find(full).value_or(0);
    report(offset, (full.empty() || !prefix ? "" : full + ": ") + message.str());
  }
  /// Prints every problem in file order; true if there was none.
  bool flush() {
    // By position, then in the order found (std::stable_sort warns in this libstdc++).
    std::vector<size_t> order(problems.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::make_pair(problems[a].first, a) < std::make_pair(problems[b].first, b);
    });
    decltype(problems) sorted;
    for (size_t i : order)
      sorted.push_back(problems[i]);
    problems = std::move(sorted);
    for (const auto &[offset, message] : problems)
      sm.PrintMessage(SMLoc::getFromPointer(buffer.data() + std::min(offset, buffer.size())),
                      llvm::SourceMgr::DK_Error, message);
    return problems.empty();
  }

  //===--------------------------------------------------------------------===//
  // Typed reads; each marks its field handled
  //===--------------------------------------------------------------------===//
  /// The name `key` has in this config: GPT-2's config stores hidden_size as n_embd (its class's
  /// attribute_map), and so on; the typed reads and errors use the stored name.
  StringRef keyOf(StringRef key) const {
    auto it = aliases.find(key);
    return it == aliases.end() ? key : it->second;
  }

  const json::Value *field(StringRef key) {
    key = keyOf(key);
    handled.insert(key);
    const json::Value *v = root->get(key);
    return v && v->kind() != json::Value::Null ? v : nullptr;
  }

  static std::string describe(const json::Value &v) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << v;
    if (s.size() > 40)
      s = s.substr(0, 37) + "...";
    return s;
  }

  std::optional<int64_t> asInt(const json::Value &v, StringRef path, int64_t lo, StringRef what) {
    std::optional<double> d = v.getAsNumber();
    std::optional<int64_t> i;
    if (d && std::fabs(*d) < 9e15)
      i = v.getAsInteger();
    if (!i) {
      error(path, "expected " + what + ", got " + describe(v));
      return std::nullopt;
    }
    if (*i < lo) {
      error(path, "expected " + what + ", got " + std::to_string(*i));
      return std::nullopt;
    }
    return i;
  }
  std::optional<double> asNumber(const json::Value &v, StringRef path, bool positive = true) {
    std::optional<double> d = v.getAsNumber();
    if (!d || !std::isfinite(*d) || (positive && !(*d > 0))) {
      error(path, std::string("expected ") + (positive ? "a positive number" : "a number") + ", got " + describe(v));
      return std::nullopt;
    }
    return d;
  }
  std::optional<bool> asBool(const json::Value &v, StringRef path) {
    std::optional<bool> b = v.getAsBoolean();
    if (!b)
      error(path, "expected true or false, got " + describe(v));
    return b;
  }
  std::optional<StringRef> asString(const json::Value &v, StringRef path) {
    std::optional<StringRef> s = v.getAsString();
    if (!s)
      error(path, "expected a string, got " + describe(v));
    return s;
  }

  int64_t intField(StringRef key, std::optional<int64_t> fallback, int64_t lo = 1) {
    if (const json::Value *v = field(key))
      return asInt(*v, key, lo, lo > 0 ? "a positive integer" : "a non-negative integer").value_or(0);
    if (!fallback) {
      error("", "missing '" + keyOf(key) + "'");
      return 0;
    }
    return *fallback;
  }
  double numberField(StringRef key, double fallback) {
    if (const json::Value *v = field(key))
      return asNumber(*v, key).value_or(fallback);
    return fallback;
  }
  bool boolField(StringRef key, bool fallback) {
    if (const json::Value *v = field(key))
      return asBool(*v, key).value_or(fallback);
    return fallback;
  }

  //===--------------------------------------------------------------------===//
  // The model
  //===--------------------------------------------------------------------===//
  static const Architecture &architectureNamed(StringRef name) {
    return *llvm::find_if(kArchitectures, [&](const Architecture &a) { return a.name == name; });
  }

  const Architecture *architecture() {
    handled.insert("architectures");
    handled.insert("model_type");
    const json::Value *archs = root->get("architectures");
    const json::Value *type = root->get("model_type");
    if (!archs) {
      // Without `architectures`, the model_type names the family.
      if (type && type->getAsString())
        for (const Architecture &a : kArchitectures)
          if (a.modelType == *type->getAsString())
            return &a;
      error("", "missing 'architectures' (one of " + llvm::join(std::begin(kArchitectureNames), std::end(kArchitectureNames), ", ") + ")");
      return nullptr;
    }
    const json::Array *list = archs->getAsArray();
    if (!list || list->size() != 1 || !(*list)[0].getAsString()) {
      error("architectures", "expected a list of one class name, got " + describe(*archs));
      return nullptr;
    }
    StringRef name = *(*list)[0].getAsString();
    // Phi-3.5-MoE's published config names its remote-code class; transformers' own is PhimoeForCausalLM.
    if (name == "PhiMoEForCausalLM")
      name = "PhimoeForCausalLM";
    for (const Architecture &a : kArchitectures)
      if (a.name == name)
        return &a;
    error("architectures[0]", "unsupported architecture '" + name + "'; supported: " +
                                  llvm::join(std::begin(kArchitectureNames), std::end(kArchitectureNames), ", "));
    return nullptr;
  }

  std::optional<ModelSpec> importModel() {
    const Architecture *arch = architecture();
    if (!arch)
      return std::nullopt;
    ModelSpec m;
    m.architecture = arch->name.str();
    const json::Value *type = root->get("model_type");
    m.name = sanitize(type && type->getAsString() ? *type->getAsString() : arch->modelType);
    if (type && type->getAsString() && *type->getAsString() != arch->modelType)
      error("model_type", "'" + type->getAsString()->str() + "' does not match " + arch->name + " (model_type '" +
                              arch->modelType + "')");
    const bool gemma3 = arch->modelType == "gemma3_text" || arch->modelType == "gemma3";
    const bool gpt2 = arch->modelType == "gpt2";
    if (gpt2)
      // GPT2Config's attribute_map, and its own names for the activation, the epsilon and the MLP width.
      aliases = {{"hidden_size", "n_embd"},           {"num_attention_heads", "n_head"},
                 {"num_hidden_layers", "n_layer"},    {"max_position_embeddings", "n_positions"},
                 {"intermediate_size", "n_inner"},    {"hidden_act", "activation_function"},
                 {"layer_norm_eps", "layer_norm_epsilon"}};
    readDType(m);
    if (arch->modelType == "gemma3" || arch->modelType == "mistral3") {
      if (!enterTextConfig(m, *arch))
        return std::nullopt;
      if (arch->modelType == "mistral3")
        arch = &architectureNamed("MistralForCausalLM"); // its text_config is a MistralConfig
    }

    // Gemma3TextConfig has defaults for every size (those of a 2B model); the other classes' configs
    // must state them.
    auto sizeDefault = [&](int64_t v) { return gemma3 ? std::optional<int64_t>(v) : std::nullopt; };
    m.vocab = intField("vocab_size", sizeDefault(262208));
    m.hidden = intField("hidden_size", sizeDefault(2304));
    m.numLayers = intField("num_hidden_layers", sizeDefault(26));
    if (m.numLayers > 100000) {
      error("num_hidden_layers", "implausibly many layers (" + std::to_string(m.numLayers) + ")");
      m.numLayers = 0;
    }
    m.maxPosition = intField("max_position_embeddings", arch->maxPosition);
    m.tieEmbeddings = boolField("tie_word_embeddings", arch->tieEmbeddings);

    // Norms: StableLM's, Starcoder 2's, Phi's and GPT-NeoX's are nn.LayerNorm (with biases), Cohere's a
    // LayerNorm without bias, the others RMSNorm.
    const bool stablelm = arch->modelType == "stablelm", starcoder2 = arch->modelType == "starcoder2",
               phi = arch->modelType == "phi", neox = arch->modelType == "gpt_neox",
               cohere2 = arch->modelType == "cohere2", cohere = arch->modelType == "cohere" || cohere2,
               phimoe = arch->modelType == "phimoe", nemotron = arch->modelType == "nemotron";
    const StringRef epsKey = stablelm || phi || neox || cohere || gpt2 ? "layer_norm_eps"
                             : starcoder2                             ? "norm_epsilon"
                             : nemotron                               ? "norm_eps"
                                                                      : "rms_norm_eps";
    m.norm.kind = stablelm || starcoder2 || phi || neox || cohere || gpt2 || phimoe || nemotron
                      ? NormSpec::Kind::Layer
                      : NormSpec::Kind::RMS;
    m.norm.unitOffset = nemotron; // NemotronLayerNorm1P: F.layer_norm(x, weight + 1, bias)
    m.norm.bias = !cohere;
    m.norm.eps = numberField(epsKey, arch->rmsEps);
    if (m.norm.eps > 1)
      error(epsKey, "expected an epsilon in (0, 1], got " + formatNumber(m.norm.eps));
    const bool gemma1 = arch->modelType == "gemma", gemma = gemma1 || arch->modelType == "gemma2" || gemma3;
    if (gemma) {
      // Gemma: RMSNorm scales by (1 + w), embeddings times sqrt(hidden); from Gemma 2 on, norms before and
      // after attention and MLP.
      m.norm.unitOffset = true;
      if (!gemma1)
        m.normPlacement = NormPlacement::Sandwich;
      // HF multiplies by sqrt(hidden) held in a tensor of the model's dtype, so rounded to it.
      if (m.hidden > 0)
        m.embedScale = roundToDType(std::sqrt(double(m.hidden)), m.dtype);
    }

    // Attention.
    AttentionConfig &a = m.attention;
    a.causal = true;
    a.heads = intField("num_attention_heads", sizeDefault(8));
    // Starcoder2Config's, GemmaConfig's, GlmConfig's, Ernie4_5Config's and SeedOssConfig's defaults (2, 16, 2,
    // 2, 8) are not the heads' count; their configs must say it. GPT-NeoX has as many key/value heads as query heads (its config
    // has no such field).
    const bool glm = arch->modelType == "glm" || arch->modelType == "glm4",
               ernieMoe = arch->modelType == "ernie4_5_moe", ernie = arch->modelType == "ernie4_5" || ernieMoe,
               seed = arch->modelType == "seed_oss", helium = arch->modelType == "helium",
               glmMoe = arch->modelType == "glm4_moe", dots1 = arch->modelType == "dots1",
               deepseek = arch->modelType == "deepseek_v3";
    if (arch->modelType == "glm4")
      m.normPlacement = NormPlacement::Sandwich; // Glm4DecoderLayer: post_self_attn and post_mlp norms too
    // HeliumConfig's is 20 whatever the heads; NemotronConfig leaves it null, which its attention cannot build.
    std::optional<int64_t> kvDefault = gemma3 ? std::optional<int64_t>(4)
                                       : helium ? std::optional<int64_t>(20)
                                       : starcoder2 || gemma1 || glm || ernie || seed || glmMoe || nemotron
                                           ? std::nullopt
                                           : std::optional<int64_t>(a.heads);
    a.kvHeads = neox ? a.heads : intField("num_key_value_heads", kvDefault);
    if (a.heads > 0 && a.kvHeads > 0 && a.heads % a.kvHeads != 0)
      error("num_key_value_heads", "num_key_value_heads (" + std::to_string(a.kvHeads) +
                                       ") must divide num_attention_heads (" + std::to_string(a.heads) + ")",
            /*prefix=*/false);
    int64_t derived = a.heads > 0 && m.hidden % a.heads == 0 ? m.hidden / a.heads : 0;
    int64_t headDimDefault = arch->headDim ? arch->headDim : derived;
    if (deepseek) {
      // readLatentAttention
    } else if (arch->headDimKey) {
      // Without a default (hidden not a multiple of heads), head_dim must be given; if heads or hidden
      // are themselves wrong, that was reported.
      bool sizesKnown = a.heads > 0 && m.hidden > 0;
      if (sizesKnown && !headDimDefault && !root->get("head_dim")) {
        handled.insert("head_dim");
        error("hidden_size", "hidden_size (" + std::to_string(m.hidden) + ") is not a multiple of num_attention_heads (" +
                                 std::to_string(a.heads) + "); give head_dim",
              /*prefix=*/false);
      } else {
        a.headDim = intField("head_dim", headDimDefault ? std::optional<int64_t>(headDimDefault)
                                         : sizesKnown   ? std::nullopt
                                                        : std::optional<int64_t>(0));
      }
    } else {
      a.headDim = derived;
      if (a.heads > 0 && m.hidden > 0 && !derived)
        error("hidden_size", "hidden_size (" + std::to_string(m.hidden) + ") is not a multiple of num_attention_heads (" +
                                 std::to_string(a.heads) + ")", /*prefix=*/false);
    }
    a.headDimV = a.headDim;
    if (deepseek)
      readLatentAttention(m);
    if (arch->modelType == "qwen2" || arch->modelType == "qwen2_moe")
      a.bias = AttentionBias::QKV; // Qwen2 has q, k, v biases and none on o_proj.
    if (starcoder2 && boolField("use_bias", true))
      a.bias = AttentionBias::All;
    if (phi) {
      // PhiDecoderLayer: attention and MLP both read input_layernorm(x); every projection has a bias.
      m.normPlacement = NormPlacement::Parallel;
      a.bias = AttentionBias::All;
      m.lmHeadBias = true;
      if (boolField("qk_layernorm", false))
        error("qk_layernorm", "per-head q/k layer norms are not supported");
    }
    if (gpt2) {
      // GPT2Attention: c_attn and c_proj with biases; scores scaled by 1/sqrt(head_dim) unless
      // scale_attn_weights is false; reorder_and_upcast_attn only computes in float32, as xf does.
      a.bias = AttentionBias::All;
      if (!boolField("scale_attn_weights", true)) {
        a.scaleKind = AttentionConfig::ScaleKind::Value;
        a.scaleValue = 1.0;
      }
      if (boolField("scale_attn_by_inverse_layer_idx", false))
        error("scale_attn_by_inverse_layer_idx", "scaling each layer's scores by 1 / (layer + 1) is not supported");
      boolField("reorder_and_upcast_attn", false);
      // GPT2Model: learned absolute positions (wpe) added to the embeddings; no rotary embedding.
      m.learnedPositions = true;
      for (int64_t l = 0; l < m.numLayers; ++l)
        m.nopeLayers.push_back(l);
      // n_ctx, older configs' copy of n_positions, and the sequence-summary head's settings.
      for (StringRef key : {"n_ctx", "summary_type", "summary_use_proj", "summary_activation",
                            "summary_proj_to_labels", "summary_first_dropout", "attn_pdrop"})
        handled.insert(key);
    }
    if (cohere) {
      // CohereDecoderLayer: attention and MLP both read input_layernorm(x); CohereForCausalLM multiplies the
      // logits by logit_scale.
      m.normPlacement = NormPlacement::Parallel;
      m.logitScale = numberField("logit_scale", 0.0625);
      // Command R+: CohereLayerNorm of q and k per head, weights [heads, head_dim]. Cohere 2 has none.
      if (!cohere2 && boolField("use_qk_norm", false))
        a.qkNorm = QkNorm::PerHeadGains;
    }
    if (cohere2)
      readCohere2Fields(m);
    if (neox) {
      // GPTNeoXLayer: x + attention(input_layernorm(x)) + mlp(post_attention_layernorm(x)) by default,
      // otherwise each block after its own norm in turn.
      m.normPlacement = boolField("use_parallel_residual", true) ? NormPlacement::ParallelTwoNorms : NormPlacement::Pre;
    }
    if (stablelm) {
      if (boolField("use_qkv_bias", false))
        a.bias = AttentionBias::QKV;
      // StableLM 2 12B: StableLmLayerNormPerHead, one nn.LayerNorm without bias per head.
      if (boolField("qk_layernorm", false))
        a.qkNorm = QkNorm::PerHeadGains;
      // StableLmDecoderLayer with use_parallel_residual: attention and MLP both on input_layernorm's output.
      if (boolField("use_parallel_residual", false))
        m.normPlacement = NormPlacement::Parallel;
    }
    if (arch->attentionBiasKey)
      a.bias = boolField("attention_bias", arch->attentionBias) ? AttentionBias::All : AttentionBias::None;
    else if (const json::Value *v = field("attention_bias"))
      if (asBool(*v, "attention_bias").value_or(false))
        error("attention_bias", arch->name + " has no attention bias switch; true is not what it computes");
    if (ernie && boolField("use_bias", false)) {
      a.bias = AttentionBias::All; // Ernie4_5Attention and Ernie4_5MLP: every projection
      if (ernieMoe)
        error("use_bias", "biases on every projection are not supported for Ernie4_5_MoeForCausalLM (its experts "
                          "and lm_head would have them too)");
    }
    if (seed) {
      // SeedOssAttention: attention_bias on q, k and v, attention_out_bias on o_proj.
      const bool out = boolField("attention_out_bias", false);
      if (a.bias == AttentionBias::None && out)
        error("attention_out_bias", "a bias on o_proj alone (attention_bias false) is not supported");
      else if (a.bias == AttentionBias::All && !out)
        a.bias = AttentionBias::QKV;
    }
    if ((glm || helium || glmMoe) && a.bias == AttentionBias::All)
      a.bias = AttentionBias::QKV; // their attention_bias is on q, k and v; o_proj has none
    if (helium && a.heads > 0 && a.headDim > 0 && m.hidden > 0 && a.heads * a.headDim != m.hidden)
      // HeliumAttention's o_proj is nn.Linear(hidden_size, hidden_size): the heads must fill hidden_size.
      error("head_dim", "num_attention_heads * head_dim (" + std::to_string(a.heads * a.headDim) +
                            ") must equal hidden_size (" + std::to_string(m.hidden) + ") for HeliumForCausalLM",
            /*prefix=*/false);
    // Qwen 3 and Gemma 3 norm q and k per head before RoPE (Gemma's norms scale by 1 + w, as its others); so
    // does GLM-4.5 with use_qk_norm.
    if (arch->modelType == "qwen3" || arch->modelType == "qwen3_moe" || gemma3 || dots1 ||
        (glmMoe && boolField("use_qk_norm", false)))
      a.qkNorm = QkNorm::PerHead;
    if (arch->modelType == "olmo2" || arch->modelType == "olmo3") {
      m.normPlacement = NormPlacement::Post;
      a.qkNorm = QkNorm::Projection;
    }
    if (arch->modelType == "exaone4") {
      // Exaone4DecoderLayer is Olmo2DecoderLayer; Exaone4Attention norms q and k per head before RoPE.
      m.normPlacement = NormPlacement::Post;
      a.qkNorm = QkNorm::PerHead;
    }
    if (arch->modelType == "olmoe") {
      a.qkNorm = QkNorm::Projection;
      if (const json::Value *v = field("clip_qkv"); v && v->kind() != json::Value::Null)
        error("clip_qkv", "clamping q, k and v (clip_qkv) is not supported; the published OLMoE configs have null");
    }
    if (gemma && !gemma1) {
      // Gemma 3 dropped Gemma 2's soft caps: its class defaults are null.
      a.scaleKind = AttentionConfig::ScaleKind::QueryPreAttnScalar;
      a.scaleValue = numberField("query_pre_attn_scalar", 256);
      a.softcap = optionalNumber("attn_logit_softcapping", gemma3 ? std::nullopt : std::optional<double>(50.0));
      m.finalSoftcap = optionalNumber("final_logit_softcapping", gemma3 ? std::nullopt : std::optional<double>(30.0));
    }
    if (gemma3)
      if (boolField("use_bidirectional_attention", false))
        error("use_bidirectional_attention", "bidirectional attention (an embedding model) is not supported; "
                                             "Gemma3ForCausalLM is causal");
    readSliding(m, *arch);
    if (arch->modelType == "exaone4") {
      // Exaone4Attention rotates q and k only where the model has no window or the layer slides: with a
      // window, its full layers are NoPE.
      const json::Value *sw = root->get("sliding_window");
      if (!sw || sw->kind() != json::Value::Null)
        for (int64_t l = 0; l < m.numLayers; ++l)
          if (!m.isSlidingLayer(l))
            m.nopeLayers.push_back(l);
    }
    if (cohere2) {
      // Cohere2Attention rotates q and k only in sliding layers: the full ones are NoPE. With sliding_window
      // null no layer would rotate.
      if (const json::Value *sw = root->get("sliding_window"); sw && sw->kind() == json::Value::Null)
        error("sliding_window", "Cohere2ForCausalLM without a sliding window (no layer would apply RoPE) is not "
                                "supported");
      for (int64_t l = 0; l < m.numLayers; ++l)
        if (!m.isSlidingLayer(l))
          m.nopeLayers.push_back(l);
    }
    if (arch->modelType == "smollm3")
      readSmolLM3Layers(m);
    const bool qwen2Moe = arch->modelType == "qwen2_moe", qwenMoe = qwen2Moe || arch->modelType == "qwen3_moe",
               olmoe = arch->modelType == "olmoe";
    if (qwenMoe && boolField("use_sliding_window", false))
      if (const json::Value *w = root->get("sliding_window"); !w || w->kind() != json::Value::Null)
        // Transformers releases disagree on which Qwen-MoE layers slide (from max_window_layers on, or all).
        error("use_sliding_window", "a sliding window is not supported for " + arch->name +
                                        " (transformers releases disagree on which layers it applies to)");

    // MLP.
    MlpSpec &mlp = m.mlp;
    if (qwenMoe) {
      // The experts of moe_intermediate_size; intermediate_size is that of the dense MLP layers.
      mlp.intermediate = intField("moe_intermediate_size", qwen2Moe ? 1408 : 768);
      const int64_t denseIntermediate = intField("intermediate_size", qwen2Moe ? 5632 : 6144);
      if (qwen2Moe) {
        mlp.sharedIntermediate = intField("shared_expert_intermediate_size", 5632);
        mlp.sharedGate = true;
      }
      // Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer: layer l is a mixture when it is not in mlp_only_layers
      // and (l + 1) % decoder_sparse_step == 0, otherwise a dense MLP of intermediate_size.
      const int64_t step = intField("decoder_sparse_step", 1);
      std::vector<int64_t> only;
      if (const json::Value *v = field("mlp_only_layers"); v && v->kind() != json::Value::Null) {
        const json::Array *list = v->getAsArray();
        if (!list)
          error("mlp_only_layers", "expected a list of layer indices, got " + describe(*v));
        else
          for (size_t i = 0; i < list->size(); ++i) {
            std::string path = "mlp_only_layers[" + std::to_string(i) + "]";
            std::optional<int64_t> l = asInt((*list)[i], path, 0, "a layer index");
            if (l && *l >= m.numLayers)
              error(path, "layer " + std::to_string(*l) + " is past the model's " + std::to_string(m.numLayers) +
                              " layers");
            else if (l)
              only.push_back(*l);
          }
      }
      for (int64_t l = 0; l < m.numLayers; ++l)
        if (llvm::is_contained(only, l) || (step > 0 && (l + 1) % step != 0))
          mlp.denseLayers.push_back(l);
      mlp.denseIntermediate = denseIntermediate;
      mlp.normTopK = boolField("norm_topk_prob", false);
    } else if (glmMoe || dots1 || ernieMoe || deepseek) {
      // Read with the routing (readDeepSeekMoe, readErnieMoe).
    } else if (olmoe) {
      // OlmoeSparseMoeBlock: every layer's experts of intermediate_size, as Qwen3-MoE's routing.
      mlp.intermediate = intField("intermediate_size", 2048);
      mlp.normTopK = boolField("norm_topk_prob", false);
    } else {
      // GPT-2's n_inner is null for 4 * n_embd.
      mlp.intermediate = intField("intermediate_size", gpt2 ? std::optional<int64_t>(4 * m.hidden) : sizeDefault(9216));
    }
    readActivation(m, *arch);
    if (phi || neox || gpt2) {
      // PhiMLP: fc2(act(fc1(x))); GPTNeoXMLP: dense_4h_to_h(act(dense_h_to_4h(x))); GPT2MLP: c_proj(act(c_fc(x)));
      // all with biases.
      mlp.gated = false;
      mlp.bias = true;
    }
    if (starcoder2) {
      // Starcoder2MLP: c_proj(act(c_fc(x))), both with use_bias's biases.
      mlp.gated = false;
      mlp.bias = a.bias == AttentionBias::All;
      // The published configs keep two fields of the original code that HF's class never reads; their
      // values there describe this model, any other would not.
      for (auto [key, expected] : {std::pair<StringRef, StringRef>{"mlp_type", "default"}, {"norm_type", "layer_norm"}})
        if (const json::Value *v = field(key))
          if (std::optional<StringRef> s = v->getAsString(); !s || *s != expected)
            error(key, "'" + key + "' = " + describe(*v) + ": only \"" + expected +
                           "\" is supported (HF's " + arch->name + " ignores this field)");
    }
    if (arch->modelType == "arcee" || nemotron)
      mlp.gated = false; // ArceeMLP, NemotronMLP: down_proj(act(up_proj(x)))
    if (arch->name == "LlamaForCausalLM" || arch->name == "SmolLM3ForCausalLM" || arch->modelType == "granite" ||
        arch->modelType == "seed_oss" || helium || arch->modelType == "arcee" || nemotron)
      mlp.bias = boolField("mlp_bias", false);
    if (ernie)
      mlp.bias = a.bias == AttentionBias::All;
    if (arch->modelType == "granite" || arch->modelType == "granitemoe")
      readGraniteMultipliers(m);
    if (arch->modelType == "phi3") {
      // Phi-4-mini's config carries fields that HF's Phi3 code never reads. Their published values change
      // nothing; any other value would mean a model HF computes differently from what the config says.
      for (StringRef key : {"lm_head_bias", "mlp_bias"})
        if (boolField(key, false))
          error(key, arch->name + " has no " + (key == "mlp_bias" ? "MLP" : "lm_head") +
                         " bias (HF ignores this field); only false is supported");
      for (StringRef key : {"full_attn_mod", "interpolate_factor"})
        if (double value = numberField(key, 1); value != 1)
          error(key, "'" + key + "' = " + formatNumber(value) + ": HF's " + arch->name +
                         " ignores this field; only 1 is supported");
    }
    if (arch->moe) {
      const bool numExperts = qwenMoe || olmoe; // Mixtral's and gpt-oss's key: num_local_experts
      const StringRef expertsKey = glmMoe || dots1 || deepseek ? "n_routed_experts"
                                   : ernieMoe ? "moe_num_experts"
                                   : numExperts ? "num_experts"
                                                : "num_local_experts",
                      topKKey = ernieMoe ? "moe_k" : "num_experts_per_tok";
      auto classDefault = [](int64_t v) { return v ? std::optional<int64_t>(v) : std::nullopt; };
      mlp.experts = intField(expertsKey, classDefault(arch->experts));
      mlp.topK = intField(topKKey, classDefault(arch->topK));
      if (mlp.topK > mlp.experts && mlp.experts > 0)
        error(topKKey, topKKey + " (" + std::to_string(mlp.topK) + ") exceeds " + expertsKey + " (" +
                           std::to_string(mlp.experts) + ")",
              /*prefix=*/false);
    }
    if (glmMoe || dots1 || deepseek)
      readDeepSeekMoe(m, arch->modelType);
    if (phimoe) {
      // PhimoeTopKRouter: sparsemixer with router_jitter_noise as its exclusion eps, top-2 only (its second
      // choice is fixed); input_jitter_noise only acts in training.
      mlp.router = MlpSpec::Router::SparseMixer;
      if (const json::Value *v = field("router_jitter_noise"))
        if (std::optional<double> eps = asNumber(*v, "router_jitter_noise", /*positive=*/false)) {
          if (*eps < 0 || *eps > 1)
            error("router_jitter_noise", "expected a number in [0, 1], got " + formatNumber(*eps));
          else
            mlp.jitterEps = *eps;
        }
      if (const json::Value *v = field("input_jitter_noise"))
        asNumber(*v, "input_jitter_noise", /*positive=*/false);
      if (mlp.topK != 2)
        error("num_experts_per_tok", "PhimoeForCausalLM's sparsemixer routing picks 2 experts, not " +
                                         std::to_string(mlp.topK));
      m.lmHeadBias = boolField("lm_head_bias", false);
    }
    if (ernieMoe)
      readErnieMoe(m);
    if (mlp.experts > 0 && static_cast<int64_t>(mlp.denseLayers.size()) == m.numLayers && m.numLayers > 0) {
      // Every layer dense (decoder_sparse_step, mlp_only_layers, first_k_dense_replace): a dense model,
      // with none of the mixture's settings.
      MlpSpec dense;
      dense.activation = mlp.activation;
      dense.gated = mlp.gated;
      dense.bias = mlp.bias;
      dense.intermediate = mlp.denseIntermediate;
      mlp = dense;
    }
    if (arch->modelType == "gpt_oss") {
      // gpt-oss: every projection has a bias (the router's too), a clamped SwiGLU, learned sinks.
      mlp.bias = true;
      mlp.limit = numberField("swiglu_limit", 7.0);
      mlp.alpha = 1.702;
      if (const json::Value *v = field("experts_per_token"))
        if (auto k = asInt(*v, "experts_per_token", 1, "a positive integer"); k && *k != mlp.topK)
          error("experts_per_token", "experts_per_token (" + std::to_string(*k) + ") disagrees with num_experts_per_tok (" +
                                         std::to_string(mlp.topK) + ")", /*prefix=*/false);
      VariantSpec sinks;
      sinks.name = "sinks";
      sinks.builtin = true;
      ParamValue mode;
      mode.kind = ParamValue::Kind::Word;
      mode.word = "learned";
      sinks.params.emplace_back("mode", mode);
      m.variants.push_back(sinks);
    }

    m.rope.base = arch->ropeTheta; // the class default of rope_theta
    if (stablelm)
      m.rope.partial = 0.25; // StableLmConfig's partial_rotary_factor default
    if (phi || nemotron)
      m.rope.partial = 0.5; // PhiConfig's, NemotronConfig's partial_rotary_factor default
    if (neox)
      readNeoXRope(m);
    if (glmMoe)
      m.rope.partial = 0.5; // Glm4MoeConfig's partial_rotary_factor; its RoPE pairs (i, i + R / 2), as Llama's
    if (glm) {
      m.rope.partial = 0.5; // GlmConfig's partial_rotary_factor
      m.rope.interleaved = true;
    }
    if (cohere || ernie || helium)
      m.rope.interleaved = true; // their RoPE puts each frequency on a pair of adjacent dims
    if (deepseek)
      m.rope.interleaved = boolField("rope_interleave", true); // pairs (2i, 2i + 1) of the rotated dims
    if (nemotron)
      if (const json::Value *v = field("rope_scaling"); v && v->kind() != json::Value::Null)
        error("rope_scaling", "NemotronForCausalLM always rotates with the default RoPE (HF's "
                              "NemotronRotaryEmbedding ignores rope_scaling): give null or leave it out");
    readRope(m);
    if (deepseek && m.rope.scaling != RopeSpec::Scaling::None && m.rope.mscaleAllDim && *m.rope.mscaleAllDim != 0) {
      // DeepseekV3Attention: with a scaled RoPE, the scores are also scaled by yarn_get_mscale(factor,
      // mscale_all_dim)^2.
      const double mscale = m.rope.factor <= 1 ? 1.0 : 0.1 * *m.rope.mscaleAllDim * std::log(m.rope.factor) + 1.0;
      m.attention.scaleKind = AttentionConfig::ScaleKind::Value;
      m.attention.scaleValue = mscale * mscale / std::sqrt(double(m.attention.headDim));
    }
    if (arch->modelType == "olmo3" && m.rope.scaling != RopeSpec::Scaling::None &&
        (!m.layerTypes.empty() || m.attention.window > 0))
      error(field("rope_parameters") ? "rope_parameters" : "rope_scaling",
            "scaled RoPE is not supported for Olmo3ForCausalLM with sliding layers (transformers releases disagree "
            "on whether the sliding layers apply the scaling)");
    if (gemma3) {
      // Gemma 3's sliding layers rotate with their own base and no scaling (HF's rotary_emb_local).
      RopeSpec local;
      local.base = numberField("rope_local_base_freq", 10000.0);
      if (!(local.base > 1))
        error("rope_local_base_freq", "expected a base > 1, got " + formatNumber(local.base));
      local.partial = m.rope.partial;
      local.interleaved = m.rope.interleaved;
      if (llvm::is_contained(m.layerTypes, LayerType::Sliding) || m.attention.window > 0)
        m.slidingRope = local;
      else if (const json::Value *w = root->get("sliding_window"); w && w->kind() == json::Value::Null)
        // HF would still rotate the sliding-type layers with the local base, attending to every key: a
        // layer type without a window, which the spec does not have.
        error("sliding_window", "Gemma 3 without a sliding window is not supported (its sliding-type layers "
                                "would still rotate with rope_local_base_freq)");
    }

    if (const json::Value *v = field("quantization_config")) {
      const json::Object *q = v->getAsObject();
      std::optional<StringRef> method = q ? q->getString("quant_method") : std::nullopt;
      // gpt-oss publishes its experts in MXFP4; the runtime dequantizes them exactly when the weights load
      // (the model's math is that of the dequantized weights), so the spec does not change.
      if (!(method && *method == "mxfp4" && arch->name == "GptOssForCausalLM")) {
        std::string message = "quantized weights (" + (method ? method->str() : std::string("unknown method")) +
                              ") are not supported";
        if (method && *method == "mxfp4")
          message += " for " + arch->name.str() + " (only gpt-oss's MXFP4 experts are)";
        error("quantization_config", message + "; use a checkpoint with unquantized weights");
      }
    }
    if (const json::Value *v = field("use_mrope"))
      if (asBool(*v, "use_mrope").value_or(false))
        error("use_mrope", "multimodal RoPE (mrope) is not supported");

    // Anything else might change the computation: refuse it by name.
    for (const auto &entry : *root) {
      StringRef key = entry.first;
      if (handled.contains(key) || llvm::is_contained(kNoMathFields, key))
        continue;
      error(key, "field '" + key + "' is not handled by the importer for " + arch->name +
                     " and may change the computation", /*prefix=*/false);
    }
    if (!problems.empty())
      return std::nullopt;
    m.resolveLayers();
    return m;
  }

  /// DeepSeek-V3's mixture as GLM-4.5 (Glm4MoeMoE) and dots.llm1 (Dots1MoE) have it: the first
  /// first_k_dense_replace layers dense (intermediate_size), the others n_routed_experts of
  /// moe_intermediate_size routed by sigmoid scores, chosen with e_score_correction_bias within the
  /// topk_group best of n_group groups, normalized (norm_topk_prob) and scaled (routed_scaling_factor), plus
  /// n_shared_experts experts' worth of shared expert. GLM-4.5's checkpoints hold num_nextn_predict_layers
  /// multi-token-prediction layers after the last, which its class skips.
  void readDeepSeekMoe(ModelSpec &m, StringRef modelType) {
    // The classes' defaults: GLM-4.5's and DeepSeek-V3's configs have them, dots.llm1's must give them.
    const bool glm = modelType == "glm4_moe", deepseek = modelType == "deepseek_v3";
    auto orNone = [](bool has, int64_t v) { return has ? std::optional<int64_t>(v) : std::nullopt; };
    MlpSpec &mlp = m.mlp;
    mlp.intermediate = intField("moe_intermediate_size", orNone(deepseek, 2048));
    mlp.denseIntermediate = intField("intermediate_size", orNone(deepseek, 18432));
    mlp.sharedIntermediate = mlp.intermediate * intField("n_shared_experts", orNone(glm || deepseek, 1));
    mlp.router = MlpSpec::Router::Sigmoid;
    mlp.selectionBias = true;
    mlp.normTopK = boolField("norm_topk_prob", glm || deepseek);
    // Fields of DeepSeek-V3's original configuration that HF's classes never read: only the values that
    // describe what they compute are accepted.
    if (int64_t freq = intField("moe_layer_freq", 1); freq != 1)
      error("moe_layer_freq", "'moe_layer_freq' = " + std::to_string(freq) + ": HF's " + m.architecture +
                                  " ignores this field (every layer from first_k_dense_replace on is a mixture); "
                                  "only 1 is supported");
    for (auto [key, expected] :
         {std::pair<StringRef, StringRef>{"scoring_func", "sigmoid"}, {"topk_method", "noaux_tc"}})
      if (const json::Value *v = field(key))
        if (std::optional<StringRef> s = v->getAsString(); !s || *s != expected)
          error(key, "'" + key + "' = " + describe(*v) + ": only \"" + expected + "\" is supported (HF's " +
                         m.architecture + " ignores this field)");
    mlp.routedScale = numberField("routed_scaling_factor", deepseek ? 2.5 : 1.0);
    if (!(mlp.routedScale > 0) || !std::isfinite(mlp.routedScale))
      error("routed_scaling_factor", "expected a positive number, got " + formatNumber(mlp.routedScale));
    mlp.groups = intField("n_group", deepseek ? 8 : 1);
    mlp.topGroups = intField("topk_group", deepseek ? 4 : 1);
    if (mlp.groups > 0 && mlp.experts > 0 &&
        (mlp.experts % mlp.groups != 0 || (mlp.groups > 1 && mlp.experts / mlp.groups < 2)))
      error("n_group", "n_group (" + std::to_string(mlp.groups) + ") must divide n_routed_experts (" +
                           std::to_string(mlp.experts) + ") into groups of at least 2",
            /*prefix=*/false);
    else if (mlp.groups > kMaxExpertGroups)
      error("n_group", "at most " + std::to_string(kMaxExpertGroups) + " expert groups are supported, got " +
                           std::to_string(mlp.groups));
    else if (mlp.topGroups > mlp.groups)
      error("topk_group", "topk_group (" + std::to_string(mlp.topGroups) + ") exceeds n_group (" +
                              std::to_string(mlp.groups) + ")",
            /*prefix=*/false);
    const int64_t dense = intField("first_k_dense_replace", glm ? 1 : deepseek ? 3 : 0, /*lo=*/0);
    for (int64_t l = 0; l < std::min(dense, m.numLayers); ++l)
      mlp.denseLayers.push_back(l);
    if (glm || deepseek)
      m.mtpLayers = intField("num_nextn_predict_layers", 0, /*lo=*/0);
    if (deepseek) {
      // Fields of DeepSeek-V3's original configuration about training and expert placement.
      intField("ep_size", 1);
      numberField("aux_loss_alpha", 0.0);
      boolField("seq_aux", true);
    }
  }

  /// Fields of Cohere's original configuration that Cohere2Config never reads (the published Command R7B
  /// config carries them): only values describing what the class computes are accepted. Its head_dim is
  /// always hidden_size / num_attention_heads.
  void readCohere2Fields(const ModelSpec &m) {
    const AttentionConfig &a = m.attention;
    if (const json::Value *v = field("head_dim"))
      if (std::optional<int64_t> d = asInt(*v, "head_dim", 1, "a positive integer"); d && *d != a.headDim)
        error("head_dim", "Cohere2Config's head_dim is hidden_size / num_attention_heads (" +
                              std::to_string(a.headDim) + "), got " + std::to_string(*d));
    auto expect = [&](StringRef key, const json::Value &expected) {
      if (const json::Value *v = field(key); v && *v != expected)
        error(key, "'" + key + "' = " + describe(*v) + ": only " + describe(expected) + " is supported (HF's " +
                       m.architecture + " ignores this field)");
    };
    expect("order_of_interleaved_layers", "local_attn_first");
    expect("position_embedding_type", "rope_gptj");
    expect("use_gated_activation", true);
    expect("use_embedding_sharing", m.tieEmbeddings);
    if (const json::Value *v = field("rotary_pct"))
      if (std::optional<double> pct = asNumber(*v, "rotary_pct"); pct && *pct != 1.0)
        error("rotary_pct", "'rotary_pct' = " + formatNumber(*pct) + ": only 1 is supported (HF's " + m.architecture +
                                " ignores this field)");
    // layer_switch: the original name of sliding_window_pattern (read with the layer types).
    if (const json::Value *v = field("layer_switch")) {
      const json::Value *pattern = root->get("sliding_window_pattern");
      std::optional<int64_t> expected = pattern ? pattern->getAsInteger() : std::optional<int64_t>(4);
      if (std::optional<int64_t> n = asInt(*v, "layer_switch", 1, "a positive integer"); n && n != expected)
        error("layer_switch", "'layer_switch' (" + std::to_string(*n) +
                                  ") disagrees with sliding_window_pattern, which HF's " + m.architecture + " reads");
    }
  }

  /// DeepSeek-V3's multi-head latent attention (DeepseekV3Attention): queries from q_proj, or through a
  /// q_lora_rank latent (null: none); keys and values from a kv_lora_rank latent per token, each head's
  /// qk_nope_head_dim unrotated key dims and v_head_dim value dims, plus qk_rope_head_dim rotated key dims
  /// every head shares. Scores over qk_nope_head_dim + qk_rope_head_dim dims.
  void readLatentAttention(ModelSpec &m) {
    AttentionConfig &a = m.attention;
    LatentAttentionSpec &latent = m.latent;
    const json::Value *q = root->get("q_lora_rank");
    latent.qRank = q && q->kind() == json::Value::Null ? 0 : intField("q_lora_rank", 1536);
    handled.insert("q_lora_rank");
    latent.kvRank = intField("kv_lora_rank", 512);
    latent.ropeDim = intField("qk_rope_head_dim", 64);
    a.headDim = intField("qk_nope_head_dim", 128) + latent.ropeDim;
    a.headDimV = intField("v_head_dim", 128);
    if (latent.ropeDim % 2 != 0)
      error("qk_rope_head_dim", "expected an even number of rotated dims, got " + std::to_string(latent.ropeDim));
    // DeepseekV3Config sets head_dim to qk_rope_head_dim (its rotary embedding's size); saved configs carry it.
    handled.insert("head_dim");
    if (const json::Value *v = root->get("head_dim"); v && v->kind() != json::Value::Null)
      if (int64_t headDim = intField("head_dim", 0); headDim != latent.ropeDim && latent.ropeDim > 0)
        error("head_dim", "DeepseekV3Config's head_dim is qk_rope_head_dim (" + std::to_string(latent.ropeDim) +
                              "), got " + std::to_string(headDim));
    if (a.kvHeads != a.heads && a.kvHeads > 0)
      error("num_key_value_heads", "latent attention expands keys and values for every head: num_key_value_heads (" +
                                       std::to_string(a.kvHeads) + ") must equal num_attention_heads (" +
                                       std::to_string(a.heads) + ")",
            /*prefix=*/false);
  }

  /// ERNIE 4.5's mixture (Ernie4_5_MoeSparseMoeBlock): layer l has it when (l + 1) % moe_layer_interval == 0
  /// and moe_layer_start_index <= l <= moe_layer_end_index (-1: the last layer), others a dense MLP of
  /// intermediate_size; moe_num_experts of moe_intermediate_size chosen by softmax + e_score_correction_bias,
  /// weighed by the softmax divided by the chosen ones' sum (at least moe_norm_min), plus
  /// moe_num_shared_experts experts' worth of shared expert.
  void readErnieMoe(ModelSpec &m) {
    MlpSpec &mlp = m.mlp;
    mlp.intermediate = intField("moe_intermediate_size", std::nullopt);
    mlp.denseIntermediate = intField("intermediate_size", std::nullopt);
    mlp.sharedIntermediate = mlp.intermediate * intField("moe_num_shared_experts", 2, /*lo=*/0);
    mlp.selectionBias = true;
    mlp.normTopK = true;
    mlp.normMin = numberField("moe_norm_min", 1e-12);
    if (!(mlp.normMin > 0) || !std::isfinite(mlp.normMin))
      error("moe_norm_min", "expected a positive number, got " + formatNumber(mlp.normMin));
    const int64_t start = intField("moe_layer_start_index", 1, /*lo=*/0),
                  interval = intField("moe_layer_interval", 1);
    int64_t end = m.numLayers - 1;
    if (const json::Value *v = field("moe_layer_end_index"))
      if (std::optional<int64_t> e = asInt(*v, "moe_layer_end_index", -1, "a layer index or -1"); e && *e >= 0)
        end = *e;
    for (int64_t l = 0; l < m.numLayers; ++l)
      if (!(interval > 0 && (l + 1) % interval == 0 && l >= start && l <= end))
        mlp.denseLayers.push_back(l);
  }

  /// Granite's multipliers: of the embeddings, of each block's output before its residual add, the score
  /// scale itself (attention_multiplier replaces 1/sqrt(head_dim); its class default is 1), and a divisor
  /// of the logits.
  void readGraniteMultipliers(ModelSpec &m) {
    auto positive = [&](StringRef key) {
      double v = numberField(key, 1.0);
      if (!(v > 0) || !std::isfinite(v)) {
        error(key, "expected a positive number, got " + formatNumber(v));
        return 1.0;
      }
      return v;
    };
    m.embedScale = positive("embedding_multiplier");
    m.residualScale = positive("residual_multiplier");
    m.attention.scaleKind = AttentionConfig::ScaleKind::Value;
    m.attention.scaleValue = positive("attention_multiplier");
    m.logitScale = 1.0 / positive("logits_scaling");
  }

  /// GPT-NeoX names its RoPE base and fraction rotary_emb_base and rotary_pct (class defaults 10000 and 0.25);
  /// newer configs may carry rope_theta and partial_rotary_factor as well, which readRope reads after these
  /// and which must then agree with them.
  void readNeoXRope(ModelSpec &m) {
    m.rope.base = numberField("rotary_emb_base", 10000.0);
    m.rope.partial = numberField("rotary_pct", 0.25);
    using Alias = std::tuple<StringRef, StringRef, double>;
    for (auto [key, alias, value] : {Alias{"rope_theta", "rotary_emb_base", m.rope.base},
                                     Alias{"partial_rotary_factor", "rotary_pct", m.rope.partial}})
      if (const json::Value *v = root->get(key); v && root->get(alias))
        if (std::optional<double> d = v->getAsNumber(); d && *d != value)
          error(key, "'" + key + "' = " + formatNumber(*d) + " disagrees with '" + alias + "' = " + formatNumber(value),
                /*prefix=*/false);
  }

  /// SmolLM3: no_rope_layers (1: the layer uses RoPE, 0: NoPE), by default every no_rope_layer_interval-th
  /// layer without. Its layer types matter only with a sliding window, which no published model uses.
  void readSmolLM3Layers(ModelSpec &m) {
    // The published config also carries Qwen 2's max_window_layers, which SmolLM3's code never reads.
    for (StringRef key : {"layer_types", "sliding_window", "max_window_layers"})
      handled.insert(key);
    if (boolField("use_sliding_window", false))
      if (const json::Value *w = root->get("sliding_window"); w && w->kind() != json::Value::Null)
        error("use_sliding_window", "a sliding window is not supported for SmolLM3ForCausalLM");
    int64_t interval = intField("no_rope_layer_interval", 4);
    const json::Value *v = field("no_rope_layers");
    if (!v) {
      for (int64_t l = 0; interval > 0 && l < m.numLayers; ++l)
        if ((l + 1) % interval == 0)
          m.nopeLayers.push_back(l);
      return;
    }
    const json::Array *list = v->getAsArray();
    if (!list) {
      error("no_rope_layers", "expected a list of 1 (RoPE) or 0 (NoPE) per layer, got " + describe(*v));
      return;
    }
    if (int64_t(list->size()) < m.numLayers) {
      error("no_rope_layers", "lists " + std::to_string(list->size()) + " layers but num_hidden_layers is " +
                                  std::to_string(m.numLayers));
      return;
    }
    for (int64_t l = 0; l < m.numLayers; ++l) {
      std::optional<int64_t> useRope = (*list)[l].getAsInteger();
      if (!useRope || (*useRope != 0 && *useRope != 1)) {
        error("no_rope_layers[" + std::to_string(l) + "]", "expected 1 (RoPE) or 0 (NoPE), got " + describe((*list)[l]));
        m.nopeLayers.clear();
        return;
      }
      if (*useRope == 0)
        m.nopeLayers.push_back(l);
    }
  }

  /// Switches to the language model of a multimodal config: its fields are those of text_config (with the
  /// text class's defaults); of the outer ones the dtype is read (text_config may override it) and those
  /// of the other towers are left to them. Outer fields that might concern the text model are refused.
  bool enterTextConfig(ModelSpec &m, const Architecture &arch) {
    // The other towers' settings: Gemma 3's SigLIP and Mistral 3's Pixtral with their projectors.
    for (StringRef key : {"text_config", "vision_config", "mm_tokens_per_image", "boi_token_index", "eoi_token_index",
                          "image_token_index", "multimodal_projector_bias", "projector_hidden_act",
                          "spatial_merge_size", "vision_feature_layer"})
      handled.insert(key);
    for (const auto &entry : *root) {
      StringRef key = entry.first;
      if (!handled.contains(key) && !llvm::is_contained(kNoMathFields, key))
        error(key, "field '" + key + "' of " + arch.name + " is not handled by the importer and may change the "
                       "computation", /*prefix=*/false);
    }
    const json::Value *text = root->get("text_config");
    const json::Object *object = text ? text->getAsObject() : nullptr;
    if (!object) {
      if (text)
        error("text_config", "expected an object, got " + describe(*text));
      else
        error("", "missing 'text_config' (the settings of " + arch.name + "'s language model)");
      return false;
    }
    root = object;
    scope = "text_config.";
    handled.clear();
    handled.insert("model_type");
    StringRef textType = arch.modelType == "mistral3" ? "mistral" : "gemma3_text";
    if (const json::Value *type = root->get("model_type"))
      if (std::optional<StringRef> t = type->getAsString(); !t || *t != textType)
        error("model_type", "expected '" + textType + "' (the language model), got " + describe(*type));
    readDType(m, /*inherit=*/true);
    return true;
  }

  std::optional<double> optionalNumber(StringRef key, std::optional<double> fallback) {
    handled.insert(key);
    const json::Value *v = root->get(key);
    if (!v)
      return fallback;
    if (v->kind() == json::Value::Null)
      return std::nullopt;
    return asNumber(*v, key);
  }

  /// The dtype; without one, float32 (the PretrainedConfig default) or, with `inherit`, what m has (the
  /// outer config's, for text_config).
  void readDType(ModelSpec &m, bool inherit = false) {
    const json::Value *v = field("torch_dtype");
    StringRef key = "torch_dtype";
    if (const json::Value *d = field("dtype")) {
      v = d;
      key = "dtype";
    }
    if (!inherit)
      m.dtype = DType::F32;
    if (!v)
      return;
    std::optional<StringRef> s = asString(*v, key);
    if (!s)
      return;
    if (*s == "bfloat16")
      m.dtype = DType::BF16;
    else if (*s == "float16")
      m.dtype = DType::F16;
    else if (*s == "float32")
      m.dtype = DType::F32;
    else
      error(key, "unsupported dtype '" + *s + "' (bfloat16, float16 or float32)");
  }

  void readActivation(ModelSpec &m, const Architecture &arch) {
    StringRef key = "hidden_act";
    const json::Value *v = field("hidden_act");
    if (arch.modelType.starts_with("gemma")) {
      // Gemma's MLP reads hidden_activation, gelu_pytorch_tanh when missing or null; hidden_act is a legacy
      // field it ignores (Gemma 1's published configs say "gelu" there).
      key = "hidden_activation";
      v = field("hidden_activation");
    }
    StringRef act = arch.activation;
    if (v) {
      if (auto s = asString(*v, key))
        act = *s;
      else
        return;
    }
    MlpSpec &mlp = m.mlp;
    mlp.gated = true;
    if (act == "silu" || act == "swish")
      mlp.activation = Activation::SiLU;
    else if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
      // gelu_fast (GPT-NeoX-20B) is the tanh form written x (1 + 0.044715 x^2) instead of x + 0.044715 x^3.
      mlp.activation = Activation::GELUTanh;
    else if (act == "gelu")
      mlp.activation = Activation::GELU;
    else if (act == "relu")
      mlp.activation = Activation::ReLU;
    else if (act == "relu2")
      mlp.activation = Activation::ReLU2;
    else
      error(key, "unsupported activation '" + act +
                     "' (silu, gelu, gelu_pytorch_tanh, gelu_new, gelu_fast, relu or relu2)");
  }

  void readSliding(ModelSpec &m, const Architecture &arch) {
    std::optional<int64_t> window;
    if (arch.sliding != SlidingStyle::None) {
      handled.insert("sliding_window");
      const json::Value *v = root->get("sliding_window");
      if (!v)
        window = arch.slidingWindow;
      else if (v->kind() != json::Value::Null)
        window = asInt(*v, "sliding_window", 1, "a positive number of keys or null");
    }
    if (arch.modelType == "gemma2")
      if (const json::Value *v = field("sliding_window_size"))
        if (auto w = asInt(*v, "sliding_window_size", 1, "a positive integer"); w && *w != window)
          error("sliding_window_size", "sliding_window_size (" + std::to_string(*w) + ") disagrees with sliding_window",
                /*prefix=*/false);
    int64_t n = m.numLayers;
    std::vector<LayerType> types(n, LayerType::Full);
    bool explicitTypes = false;
    if (arch.sliding == SlidingStyle::Qwen || arch.sliding == SlidingStyle::Alternating ||
        arch.sliding == SlidingStyle::Pattern || arch.sliding == SlidingStyle::WindowLayers) {
      if (const json::Value *v = field("layer_types")) {
        explicitTypes = true;
        const json::Array *list = v->getAsArray();
        if (!list) {
          error("layer_types", "expected a list of layer types");
        } else {
          if (int64_t(list->size()) != n)
            error("layer_types", "lists " + std::to_string(list->size()) + " layers but num_hidden_layers is " +
                                     std::to_string(n));
          for (size_t i = 0; i < list->size() && int64_t(i) < n; ++i) {
            std::string path = "layer_types[" + std::to_string(i) + "]";
            std::optional<StringRef> t = (*list)[i].getAsString();
            if (t && *t == "sliding_attention")
              types[i] = LayerType::Sliding;
            else if (!t || *t != "full_attention")
              error(path, "unsupported layer type " + describe((*list)[i]) +
                              " (sliding_attention or full_attention)");
          }
        }
      }
    }
    switch (arch.sliding) {
    case SlidingStyle::None:
      return;
    case SlidingStyle::AllLayers:
      if (window)
        std::fill(types.begin(), types.end(), LayerType::Sliding);
      break;
    case SlidingStyle::Qwen: {
      // Qwen2Config: sliding_window is None unless use_sliding_window; by default the layers from
      // max_window_layers on slide.
      bool use = boolField("use_sliding_window", false);
      int64_t maxWindowLayers = intField("max_window_layers", 28, 0);
      if (!use)
        window.reset();
      if (!explicitTypes && window)
        for (int64_t i = maxWindowLayers; i < n; ++i)
          types[i] = LayerType::Sliding;
      break;
    }
    case SlidingStyle::WindowLayers: {
      // Dots1Config: the layers from max_window_layers (default 62) on slide when sliding_window is set.
      int64_t maxWindowLayers = intField("max_window_layers", 62, 0);
      if (!explicitTypes && window)
        for (int64_t i = maxWindowLayers; i < n; ++i)
          types[i] = LayerType::Sliding;
      break;
    }
    case SlidingStyle::Alternating:
      if (!explicitTypes)
        for (int64_t i = 0; i < n; i += 2)
          types[i] = LayerType::Sliding;
      break;
    case SlidingStyle::Pattern: {
      // Gemma3TextConfig and Exaone4Config: layer i slides unless (i + 1) % sliding_window_pattern == 0. EXAONE's
      // published configs list layer_types beside a pattern written as a string ("LLLG"), which its class then
      // ignores.
      const bool exaone = arch.modelType == "exaone4";
      if (exaone && explicitTypes) {
        handled.insert("sliding_window_pattern");
        break;
      }
      // Exaone4Config sets the pattern to 0 (every layer full) when sliding_window is null.
      const json::Value *sw = root->get("sliding_window");
      if (exaone && sw && sw->kind() == json::Value::Null) {
        handled.insert("sliding_window_pattern");
        break;
      }
      // Olmo3Config has no pattern field: layer i slides unless (i + 1) % 4 == 0.
      int64_t pattern = arch.modelType == "olmo3"
                            ? 4
                            : intField("sliding_window_pattern", exaone || arch.modelType == "cohere2" ? 4 : 6);
      if (!explicitTypes && pattern > 0)
        for (int64_t i = 0; i < n; ++i)
          types[i] = (i + 1) % pattern ? LayerType::Sliding : LayerType::Full;
      break;
    }
    }
    if (!window)
      return; // sliding layers without a window attend to everything
    int64_t sliding = llvm::count(types, LayerType::Sliding);
    if (sliding == n && n > 0) {
      m.attention.window = *window;
    } else if (sliding > 0) {
      m.slidingWindow = window;
      m.layerTypes = types;
    }
  }

  //===--------------------------------------------------------------------===//
  // RoPE
  //===--------------------------------------------------------------------===//
  void readRope(ModelSpec &m) {
    RopeSpec &r = m.rope;
    // rope_scaling (transformers < 5) or rope_parameters (transformers 5, which also holds rope_theta
    // and partial_rotary_factor).
    const json::Value *scaling = field("rope_scaling");
    StringRef prefix = "rope_scaling";
    if (const json::Value *params = field("rope_parameters")) {
      if (scaling) {
        error("rope_parameters", "give either rope_parameters or rope_scaling, not both");
        return;
      }
      scaling = params;
      prefix = "rope_parameters";
    }
    const json::Object *s = scaling ? scaling->getAsObject() : nullptr;
    if (scaling && !s) {
      error(prefix, "expected an object or null, got " + describe(*scaling));
      return;
    }
    llvm::StringSet<> used;
    auto path = [&](StringRef key) { return (prefix + "." + key).str(); };
    auto get = [&](StringRef key) -> const json::Value * {
      used.insert(key);
      const json::Value *v = s->get(key);
      return v && v->kind() != json::Value::Null ? v : nullptr;
    };

    std::string basePath = "rope_theta", partialPath = "partial_rotary_factor";
    r.base = numberField("rope_theta", r.base);
    r.partial = numberField("partial_rotary_factor", r.partial);
    if (s && prefix == "rope_parameters") {
      if (const json::Value *v = get("rope_theta")) {
        basePath = path("rope_theta");
        r.base = asNumber(*v, basePath).value_or(r.base);
      }
      if (const json::Value *v = get("partial_rotary_factor")) {
        partialPath = path("partial_rotary_factor");
        r.partial = asNumber(*v, partialPath).value_or(r.partial);
      }
    }
    if (!(r.base > 1))
      error(basePath, "expected a RoPE base > 1, got " + formatNumber(r.base));
    if (r.partial > 1.0)
      error(partialPath, "expected a fraction in (0, 1], got " + formatNumber(r.partial));
    std::optional<int64_t> originalTop;
    if (const json::Value *v = field("original_max_position_embeddings"))
      originalTop = asInt(*v, "original_max_position_embeddings", 1, "a positive integer");

    double rotary = double(m.attention.headDim) * r.partial;
    int64_t rotaryDim = int64_t(rotary);
    if (m.attention.headDim > 0 && (double(rotaryDim) != rotary || rotaryDim % 2 || rotaryDim == 0))
      error(positions.find(scope + partialPath) ? partialPath : std::string("head_dim"),
            "RoPE would rotate head_dim * partial_rotary_factor = " + formatNumber(rotary) +
                " dims, which must be a positive even integer");
    if (!s)
      return;
    auto number = [&](StringRef key, std::optional<double> &out) {
      if (const json::Value *v = get(key))
        out = asNumber(*v, path(key));
    };
    // The kind: rope_type, or type in older configs.
    std::optional<StringRef> kind;
    for (StringRef key : {"rope_type", "type"}) {
      if (const json::Value *v = get(key)) {
        std::optional<StringRef> k = asString(*v, path(key));
        if (k && kind && *k != *kind)
          error(path(key), "'" + *k + "' disagrees with rope_type '" + *kind + "'");
        if (k && !kind)
          kind = k;
      }
    }
    if (!kind) {
      error(prefix, "missing 'rope_type'");
      return;
    }
    StringRef k = *kind == "su" ? StringRef("longrope") : *kind;
    std::optional<double> factor, attentionFactor, low, high, betaFast, betaSlow, mscale, mscaleAllDim;
    std::optional<int64_t> original;
    if (const json::Value *v = get("original_max_position_embeddings"))
      original = asInt(*v, path("original_max_position_embeddings"), 1, "a positive integer");
    auto require = [&](StringRef key, std::optional<double> &out) {
      number(key, out);
      if (!s->get(key))
        error(prefix, "rope_type '" + k + "' needs '" + key + "'");
    };
    if (k == "default") {
      r.scaling = RopeSpec::Scaling::None;
    } else if (k == "linear") {
      r.scaling = RopeSpec::Scaling::Linear;
      require("factor", factor);
    } else if (k == "dynamic") {
      r.scaling = RopeSpec::Scaling::Dynamic;
      require("factor", factor);
      r.originalMaxPosition = original ? original : originalTop ? originalTop : std::optional<int64_t>(m.maxPosition);
    } else if (k == "yarn") {
      r.scaling = RopeSpec::Scaling::Yarn;
      require("factor", factor);
      number("attention_factor", attentionFactor);
      number("beta_fast", betaFast);
      number("beta_slow", betaSlow);
      number("mscale", mscale);
      number("mscale_all_dim", mscaleAllDim);
      if (const json::Value *v = get("truncate"))
        r.truncate = asBool(*v, path("truncate")).value_or(true);
      r.originalMaxPosition = original ? original : std::optional<int64_t>(m.maxPosition);
      r.betaFast = betaFast.value_or(32.0);
      r.betaSlow = betaSlow.value_or(1.0);
      if (!(r.betaFast > r.betaSlow))
        error(path("beta_fast"), "beta_fast must exceed beta_slow");
      r.mscale = mscale;
      r.mscaleAllDim = mscaleAllDim;
      r.attentionFactor = attentionFactor;
    } else if (k == "llama3") {
      r.scaling = RopeSpec::Scaling::Llama3;
      require("factor", factor);
      require("low_freq_factor", low);
      require("high_freq_factor", high);
      if (!original)
        error(prefix, "rope_type 'llama3' needs 'original_max_position_embeddings'");
      r.originalMaxPosition = original;
      r.lowFreqFactor = low.value_or(1.0);
      r.highFreqFactor = high.value_or(4.0);
      if (low && high && !(*high > *low))
        error(path("high_freq_factor"), "high_freq_factor must exceed low_freq_factor");
    } else if (k == "longrope") {
      r.scaling = RopeSpec::Scaling::LongRope;
      number("attention_factor", attentionFactor);
      number("factor", factor);
      r.attentionFactor = attentionFactor;
      if (m.architecture == "PhimoeForCausalLM") {
        // PhimoeRotaryEmbedding scales cos and sin by short_mscale or long_mscale (by the same length test as
        // the factors) instead of the attention factor.
        std::optional<double> shortMscale, longMscale;
        require("short_mscale", shortMscale);
        require("long_mscale", longMscale);
        if (shortMscale && longMscale && *shortMscale != *longMscale)
          error(path("long_mscale"), "differs from short_mscale (" + formatNumber(*shortMscale) +
                                         "): one scale for short and long contexts is supported");
        else if (shortMscale)
          r.attentionFactor = shortMscale;
      }
      r.originalMaxPosition = original ? original : originalTop;
      if (!r.originalMaxPosition)
        error(prefix, "rope_type 'longrope' needs original_max_position_embeddings (here or at the top level)");
      else if (!factor)
        factor = double(m.maxPosition) / double(*r.originalMaxPosition);
      for (auto [key, out] : {std::pair<StringRef, std::vector<double> *>{"short_factor", &r.shortFactor},
                              {"long_factor", &r.longFactor}}) {
        const json::Value *v = get(key);
        const json::Array *list = v ? v->getAsArray() : nullptr;
        if (!list) {
          error(v ? path(key) : prefix.str(), "rope_type 'longrope' needs '" + key + "', a list of numbers");
          continue;
        }
        for (size_t i = 0; i < list->size(); ++i)
          if (auto x = asNumber((*list)[i], path(key) + "[" + std::to_string(i) + "]"))
            out->push_back(*x);
        if (rotaryDim > 0 && int64_t(list->size()) != rotaryDim / 2)
          error(path(key), "has " + std::to_string(list->size()) + " entries; RoPE over " +
                               std::to_string(rotaryDim) + " dims needs " + std::to_string(rotaryDim / 2));
      }
    } else {
      error(path(s->get("rope_type") ? "rope_type" : "type"),
            "unsupported rope_type '" + *kind + "' (default, linear, dynamic, yarn, llama3, longrope or su)");
      return;
    }
    if (factor)
      r.factor = *factor;
    if (r.scaling != RopeSpec::Scaling::None && r.scaling != RopeSpec::Scaling::LongRope && r.factor < 1.0)
      error(path("factor"), "factor must be >= 1, got " + formatNumber(r.factor));
    for (const auto &entry : *s)
      if (!used.contains(entry.first))
        error(path(entry.first), "field '" + path(entry.first) + "' is not handled for rope_type '" + k +
                                     "' and may change the computation", /*prefix=*/false);
  }

  llvm::SourceMgr &sm;
  StringRef buffer;
  JsonPositions positions;
  std::string scope; // the JSON path of `root` with a trailing '.', empty for the document
  const json::Object *root = nullptr;
  llvm::StringSet<> handled;
  llvm::StringMap<StringRef> aliases; // keyOf
  std::vector<std::pair<size_t, std::string>> problems;
};

} // namespace

llvm::ArrayRef<StringRef> xf::supportedHFArchitectures() { return kArchitectureNames; }

std::optional<ModelSpec> xf::importHFConfig(llvm::SourceMgr &sourceMgr, unsigned bufferId) {
  return Importer(sourceMgr, bufferId).run();
}
