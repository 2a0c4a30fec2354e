//===- ModelSpec.h - a checked, fully resolved specification ---------------===//
//
// What the frontend hands to MLIRGen and the spec printer: attention kernel blocks and models with every
// default applied and every per-layer override resolved, from a .xf file (Sema) or a Hugging Face
// config.json (hf/ConfigImporter). Nothing here needs the source to be understood; source locations are
// kept only for diagnostics and IR locations (and are empty for imported configs).
//
//===----------------------------------------------------------------------===//
#ifndef XF_FRONTEND_MODELSPEC_H
#define XF_FRONTEND_MODELSPEC_H

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xf {

//===----------------------------------------------------------------------===//
// Score and mask expressions
//===----------------------------------------------------------------------===//

/// Types of score/mask expressions: `b, h, i, j` are Int, `z` is Float, comparisons are Bool.
enum class ScalarType { Int, Float, Bool };
llvm::StringRef toString(ScalarType t);

/// A type-checked score or mask expression over (z, b, h, i, j). Constants are folded, named constants
/// and variant parameters substituted, ints used where floats are expected converted explicitly
/// (ToFloat), so MLIRGen emits it one node per op and the printer writes it back as .xf.
struct TypedExpr {
  enum class Op {
    Const,   // intValue / floatValue / boolValue by type
    Var,     // var: 'z', 'b', 'h', 'i' or 'j'
    Neg, Not,
    Add, Sub, Mul,
    Div,     // Int: floor division by a non-zero constant; Float: IEEE division
    Mod,     // Int only: floored modulo by a non-zero constant (the sign of the divisor)
    Lt, Le, Gt, Ge, Eq, Ne,
    And, Or,
    Select,  // operands: condition, then, else
    Min, Max, Abs, Exp, Log, Sqrt, Tanh,
    ToFloat, // Int -> Float
    Lookup,  // table[clamp(operand, 0, size-1)]; intTable or floatTable by type
  };
  Op op = Op::Const;
  ScalarType type = ScalarType::Int;
  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  char var = 0;
  std::vector<int64_t> intTable; // Int and Bool lookups
  std::vector<double> floatTable;
  std::vector<std::shared_ptr<const TypedExpr>> operands;
};
using TypedExprRef = std::shared_ptr<const TypedExpr>;

bool equal(const TypedExprRef &a, const TypedExprRef &b);
/// Prints `e` as a .xf expression that parses back to the same tree.
void printTypedExpr(const TypedExpr &e, llvm::raw_ostream &os);
/// The shortest decimal spelling of `v` that reads back exactly, always with '.' or an exponent.
std::string formatNumber(double v);

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// A dimension fixed at compile time or given per call.
struct Extent {
  std::optional<int64_t> value; // nullopt: dynamic
  bool operator==(const Extent &o) const { return value == o.value; }
};

enum class AttentionBias { None, QKV, All };

/// The model's norm (RMSNorm or LayerNorm, never a bias) of the queries and keys before RoPE: over each
/// head's head_dim with gains shared by all heads (Qwen 3, Gemma 3) or each head's own gains, [heads,
/// head_dim] (Cohere's use_qk_norm, StableLM 2's qk_layernorm), or over each token's whole q and k
/// projections (OLMo 2).
enum class QkNorm { None, PerHead, PerHeadGains, Projection };

/// A value of a built-in variant parameter.
struct ParamValue {
  enum class Kind { Int, Float, Bool, Word, IntList };
  Kind kind = Kind::Int;
  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  std::string word;
  std::vector<int64_t> list;
  bool operator==(const ParamValue &o) const;
};

/// One variant applied to an attention: a built-in one (VARIANTS.md: sinks, head_modulation,
/// mixture_of_heads, affine_scale, phase_bounded_rope) with its parameters, all defaults filled in, or a
/// user-declared one with its resolved score and/or mask expression.
struct VariantSpec {
  std::string name;
  bool builtin = false;
  std::vector<std::pair<std::string, ParamValue>> params; // built-in: in the canonical order
  TypedExprRef score, mask;                               // user-declared
  llvm::SMLoc loc;
  const ParamValue *param(llvm::StringRef key) const;
  bool operator==(const VariantSpec &o) const;
};

/// The attention of one layer, or of a kernel block, after defaults and overrides.
enum class DType { F32, F16, BF16 };
llvm::StringRef toString(DType t);

struct AttentionConfig {
  int64_t heads = 0, kvHeads = 0, headDim = 0, headDimV = 0;
  bool causal = false;
  int64_t window = 0; // keys including the query's own position; 0: none

  /// How the score scale is given: 1/sqrt(head_dim), a number, or Gemma's query_pre_attn_scalar q
  /// (scale = 1/sqrt(q)).
  enum class ScaleKind { Default, Value, QueryPreAttnScalar };
  ScaleKind scaleKind = ScaleKind::Default;
  double scaleValue = 0.0;
  double scale() const;

  std::optional<double> softcap; // z' = c * tanh(z / c), applied after every other score modifier
  TypedExprRef score, mask;      // the block's own modifiers (null: none)
  QkNorm qkNorm = QkNorm::None;
  AttentionBias bias = AttentionBias::None;
  Extent batch, seqQ, seqK;      // kernel blocks only
  DType dtype = DType::F32;      // kernel blocks only: query and output
  DType kvDtype = DType::F32;    // kernel blocks only: key and value

  bool operator==(const AttentionConfig &o) const;
  bool operator!=(const AttentionConfig &o) const { return !(*this == o); }
};

/// A top-level `attention NAME { ... }` block: one kernel.
struct AttentionSpec {
  std::string name;
  llvm::SMLoc loc;
  AttentionConfig config;
  std::vector<VariantSpec> variants;
};

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//


struct NormSpec {
  enum class Kind { RMS, Layer };
  Kind kind = Kind::RMS;
  double eps = 1e-5;
  bool unitOffset = false; // weight stored as w - 1 and applied as (1 + w) (Gemma)
  bool bias = true;        // a LayerNorm adds a bias (Cohere's has none); RMSNorm never does
  bool operator==(const NormSpec &o) const {
    return kind == o.kind && eps == o.eps && unitOffset == o.unitOffset && bias == o.bias;
  }
};

/// Where the norms sit: `pre` (x + f(norm(x))), `sandwich` (x + norm(f(norm(x))), Gemma 2), `post`
/// (x + norm(f(x)), OLMo 2), `parallel` (x + attention(norm(x)) + mlp(norm(x)), one norm: Phi) or
/// `parallel_two_norms` (x + attention(norm1(x)) + mlp(norm2(x)): GPT-NeoX).
enum class NormPlacement { Pre, Sandwich, Post, Parallel, ParallelTwoNorms };
llvm::StringRef toString(NormPlacement p);
/// The placement toString gives `name`, if any.
std::optional<NormPlacement> normPlacementNamed(llvm::StringRef name);
/// Whether attention and MLP read the same residual stream side by side (either parallel form).
inline bool isParallel(NormPlacement p) { return p == NormPlacement::Parallel || p == NormPlacement::ParallelTwoNorms; }

enum class Activation { SiLU, GELU, GELUTanh, ReLU, ReLU2 }; // ReLU2: relu(x)^2 (Arcee)
llvm::StringRef toString(Activation a);

/// The most expert groups a router may have: the GPU's routing keeps the chosen groups as the bits of a
/// 32-bit word.
constexpr int64_t kMaxExpertGroups = 32;

struct MlpSpec {
  Activation activation = Activation::SiLU;
  bool gated = true; // act(gate(x)) * up(x)
  int64_t intermediate = 0;
  bool bias = false;
  int64_t experts = 0; // 0: dense
  int64_t topK = 0;
  /// The chosen experts' weights are the softmax of their own logits, i.e. the softmax over all experts
  /// renormalized to sum to 1 (gpt-oss, Mixtral); false: the softmax over all experts, not renormalized
  /// (Qwen3-MoE's norm_topk_prob = false).
  bool normTopK = true;
  /// A shared expert every token takes besides its routed ones, a gated MLP of this intermediate size
  /// (Qwen2-MoE's shared_expert_intermediate_size); 0: none.
  int64_t sharedIntermediate = 0;
  /// The shared expert's output times sigmoid(g . x), g a learned vector (Qwen2-MoE's shared_expert_gate).
  bool sharedGate = false;
  /// How router logits become expert scores: softmax over all experts (Mixtral, Qwen), or each logit's
  /// sigmoid (GLM-4.5, DeepSeek-V3), whose chosen weights are normalized by their sum (+ 1e-20) under
  /// normTopK; or SparseMixer (Phi-3.5-MoE, top-2 only): the best logit's expert, weighed by the softmax
  /// over the experts whose logits are within 2 * jitterEps (relative) of it, then the same among the others.
  enum class Router { Softmax, Sigmoid, SparseMixer };
  Router router = Router::Softmax;
  double jitterEps = 0.01;
  /// A learned [experts] bias added to the scores only to choose the experts, not to weigh them
  /// (GLM-4.5's and ERNIE 4.5's e_score_correction_bias).
  bool selectionBias = false;
  /// Experts in `groups` equal groups, each scored by its two best choice scores; only the `topGroups`
  /// best groups' experts may be chosen (the others' choice scores become 0).
  int64_t groups = 1, topGroups = 1;
  /// The routed experts' weights are multiplied by it (routed_scaling_factor).
  double routedScale = 1.0;
  /// Under normTopK, the chosen scores' sum is taken as at least this before dividing (ERNIE 4.5's
  /// moe_norm_min); 0: no floor.
  double normMin = 0.0;
  llvm::StringRef routerName() const {
    return router == Router::Sigmoid ? "sigmoid" : router == Router::SparseMixer ? "sparsemixer" : "softmax";
  }
  /// Layers whose MLP is dense (a gated MLP of `denseIntermediate`), not the mixture (GLM-4.5's first
  /// first_k_dense_replace layers, Qwen-MoE's mlp_only_layers), ascending.
  std::vector<int64_t> denseLayers;
  int64_t denseIntermediate = 0;
  bool isDenseLayer(int64_t layer) const { return experts == 0 || llvm::is_contained(denseLayers, layer); }
  /// gpt-oss clamped SwiGLU: gate clamped to <= limit, up to [-limit, limit], gate * sigmoid(alpha *
  /// gate) * (up + 1).
  std::optional<double> limit;
  double alpha = 1.702;
  bool operator==(const MlpSpec &o) const;
};

struct RopeSpec {
  enum class Scaling { None, Linear, Dynamic, Yarn, Llama3, LongRope };
  double base = 10000.0;
  bool baseAuto = false;   // `base = auto`: chosen by the phase-bounded RoPE pass
  double partial = 1.0;    // fraction of head_dim rotated (partial_rotary_factor)
  bool interleaved = false;
  Scaling scaling = Scaling::None;
  double factor = 1.0;
  std::optional<int64_t> originalMaxPosition;
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;      // llama3
  double betaFast = 32.0, betaSlow = 1.0;                 // yarn
  bool truncate = true;                                   // yarn
  std::optional<double> mscale, mscaleAllDim;             // yarn (DeepSeek form)
  std::optional<double> attentionFactor;                  // yarn, longrope; nullopt: the HF formula
  std::vector<double> shortFactor, longFactor;            // longrope
  bool operator==(const RopeSpec &o) const;
};
llvm::StringRef toString(RopeSpec::Scaling s);

enum class LayerType { Full, Sliding };

struct LayerSpec {
  AttentionConfig attention;
  std::vector<VariantSpec> variants; // the model's, then the layer's own
};

/// Multi-head latent attention (DeepSeek-V2/V3): each token's keys and values are expanded per head from one
/// latent of `kvRank` features (self_attn.kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj), plus `ropeDim`
/// rotated key dims per token that every head shares; queries come from q_proj, or through a latent of
/// `qRank` features (q_a_proj, q_a_layernorm, q_b_proj). head_dim is the query/key dims (the unrotated
/// ones, then `ropeDim` rotated ones, as stored), head_dim_v the value dims.
struct LatentAttentionSpec {
  int64_t qRank = 0;  // 0: q_proj
  int64_t kvRank = 0; // 0: plain attention
  int64_t ropeDim = 0;
  bool enabled() const { return kvRank > 0; }
};

struct ModelSpec {
  std::string name;
  llvm::SMLoc loc;
  std::string architecture; // the HF class name: selects the checkpoint's tensor names, not the math
  int64_t vocab = 0, hidden = 0, numLayers = 0;
  DType dtype = DType::BF16;
  bool tieEmbeddings = false;
  int64_t maxPosition = 0; // 0: not stated
  double embedScale = 1.0; // the embedding output is multiplied by it (Gemma: sqrt(hidden))
  /// Each attention and MLP output is multiplied by it before its residual add (Granite's
  /// residual_multiplier).
  double residualScale = 1.0;
  /// The logits are multiplied by it, before the final soft cap (Granite: 1 / logits_scaling).
  double logitScale = 1.0;
  bool lmHeadBias = false; // the output projection has a bias (Phi)
  /// A learned table of absolute positions ([max_position, hidden], GPT-2's wpe) added to the embeddings.
  bool learnedPositions = false;
  std::optional<double> finalSoftcap;
  NormSpec norm;
  NormPlacement normPlacement = NormPlacement::Pre;
  MlpSpec mlp;
  RopeSpec rope;
  /// The RoPE of sliding layers where it differs from `rope` (Gemma 3's rope_local_base_freq); the same
  /// rotated dims and pairing as `rope`, only the frequencies differ.
  std::optional<RopeSpec> slidingRope;
  /// Layers without positional encoding (NoPE: SmolLM3's every fourth), ascending.
  std::vector<int64_t> nopeLayers;
  /// Multi-token-prediction layers the checkpoint holds after the model's own (GLM-4.5's
  /// num_nextn_predict_layers): the runtime skips their tensors.
  int64_t mtpLayers = 0;

  /// The attention block as written (before layer types and overrides).
  AttentionConfig attention;
  LatentAttentionSpec latent;
  std::optional<int64_t> slidingWindow; // the window of `sliding` layers
  std::vector<LayerType> layerTypes;    // empty, or one per layer
  std::vector<VariantSpec> variants;    // applied to every layer

  std::vector<LayerSpec> layers; // resolved, one per layer

  /// The attention of `layer` before `layers` overrides: the block, with the sliding window if the layer
  /// type says so.
  AttentionConfig layerBase(size_t layer) const;
  /// Fills `layers` from the attention block, the layer types and the model variants (no overrides).
  void resolveLayers();
  /// Whether `layer` is of type `sliding` (every layer is when the model's attention has a window).
  bool isSlidingLayer(size_t layer) const;
  /// The RoPE of `layer`: `slidingRope` for sliding layers when given, `rope` otherwise.
  const RopeSpec &ropeOf(size_t layer) const;
  /// Whether `layer` rotates its queries and keys at all (not one of `nopeLayers`).
  bool usesRope(size_t layer) const;
  /// Where the architecture's checkpoint names differ from Llama's by prefix: each pair is a Llama-style
  /// prefix (`model.layers.`) and the stored one (GPT-NeoX's `gpt_neox.layers.`); a name takes the first
  /// pair it starts with. Empty for the other architectures.
  std::vector<std::pair<std::string, std::string>> tensorPrefixes() const;
};

struct Spec {
  std::vector<AttentionSpec> attentions;
  std::vector<ModelSpec> models;
};

} // namespace xf

#endif // XF_FRONTEND_MODELSPEC_H
