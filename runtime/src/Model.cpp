//===- Model.cpp - running a model: plan, weights, KV cache, forward -------===//
//
// The artifact's plan (frontend/ModelPlan.h) says what each layer is; this file binds it to Hugging Face
// weights and runs it: dense ops through the Halide kernels (runtime/cpu/DenseOps.h), attention through
// the artifact's compiled kernels, which read the KV cache in place through strided descriptors.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "Module.h"
#include "Safetensors.h"
#include "Status.h"
#include "runtime/cpu/DenseOps.h"
#include "runtime/cpu/MemRefCall.h"
#include "runtime/cpu/ThreadPool.h"
#include "xfrt.hpp"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

using namespace xf::rt;
using dense::Linear;
using dense::Storage;
namespace json = llvm::json;

namespace {

//===----------------------------------------------------------------------===//
// The plan
//===----------------------------------------------------------------------===//

struct LayerPlan {
  std::string kernel;
  int64_t kernelIndex = -1;
  int64_t heads = 0, kvHeads = 0, headDim = 0, headDimV = 0;
  bool qkNorm = false, qkvBias = false, oBias = false, learnedSinks = false;
  bool qkNormProjection = false;      // q/k norms over each token's whole projections (OLMo 2), not per head
  bool qkNormHeadGains = false;       // per head, each head its own gains [heads, D] (Cohere, StableLM 2)
  bool slidingRope = false;           // rotates with Plan::slidingRope (Gemma 3's sliding layers)
  bool noRope = false;                // no positional encoding (SmolLM3's NoPE layers)
  bool denseMlp = true;               // a dense MLP, not the mixture of experts (GLM-4.5's first layers)
  int64_t window = 0, sinkTokens = 0; // from the kernel's attributes: the cache policy
  int64_t routerIndex = -1;           // mixture-of-head attention: the kernel computing the head gates
  bool affine = false;                // affine-scaled attention: the kernel takes alpha and alpha_ma
  int64_t sharedHeads = 0;            // the router's always-active heads
};

struct RopePlan {
  int64_t rotaryDim = 0, originalMax = 0;
  /// Pairs (2i, 2i + 1) rotate (GLM) rather than (i, i + R / 2). The kernels rotate the latter: the model's
  /// q and k rows are stored with each head's dims permuted to match (ropeDimOf).
  bool interleaved = false;
  std::vector<double> invFreq, longInvFreq;
  double attentionFactor = 1.0, factor = 1.0, base = 10000.0;
  std::string scaling;
};

struct Plan {
  std::string name, architecture;
  int64_t vocab = 0, hidden = 0, maxPositions = 0;
  bool tieEmbeddings = false, unitOffset = false;
  bool layerNorm = false;     // the norms are LayerNorms (StableLM), not RMSNorms
  bool layerNormBias = false; // with biases (all but Cohere's): without, the runtime keeps zeros
  bool lmHeadBias = false;
  bool learnedPositions = false; // a learned table of absolute positions added to the embeddings (GPT-2)
  int64_t mtpLayers = 0;         // multi-token-prediction layers after the last, in the checkpoint only
  /// Where the norms sit (the spec's norm_placement): pre, x + f(norm(x)); sandwich, x + norm(f(norm(x)))
  /// (Gemma 2); post, x + norm(f(x)) (OLMo 2: no norm before the blocks); parallel, x + attention(norm(x)) +
  /// mlp(norm(x)) with one norm (Phi) or two (GPT-NeoX: the MLP's is post_attention_layernorm).
  enum class Placement { Pre, Sandwich, Post, Parallel, ParallelTwoNorms } placement = Placement::Pre;
  bool sandwich() const { return placement == Placement::Sandwich; }
  bool postNorms() const { return placement == Placement::Post; }
  /// Attention and MLP side by side on the same residual stream (either parallel form).
  bool parallel() const { return placement == Placement::Parallel || placement == Placement::ParallelTwoNorms; }
  bool twoNorms() const { return placement == Placement::ParallelTwoNorms; }
  /// Llama-style tensor-name prefixes and the checkpoint's (WeightStore::mapPrefixes), where they differ.
  std::vector<std::pair<std::string, std::string>> tensorPrefixes;
  double embedScale = 1.0, normEps = 1e-5;
  double residualScale = 1.0; // multiplies each block's output before its residual add (Granite)
  double logitScale = 1.0;    // multiplies the logits, before the final soft cap
  std::optional<double> finalSoftcap;
  struct MlpPlan {
    std::string activation;
    bool gated = true; // act(gate x) * up x; false: act(up x) (Starcoder 2's c_fc)
    int64_t intermediate = 0, experts = 0, topK = 0;
    bool bias = false;
    bool normTopK = true; // false: the chosen experts keep their softmax over all experts
    int64_t sharedIntermediate = 0; // a shared expert beside the routed ones (Qwen2-MoE); 0: none
    bool sharedGate = false;        // its output times sigmoid(shared_expert_gate . x)
    /// Scored routing (routeTopK): experts scored by sigmoid(logit) (GLM-4.5) or the softmax, chosen by
    /// score + selection bias within the top_groups best of `groups` groups, weighed by score (normalized,
    /// the sum floored at normMin), times routedScale.
    bool sigmoidRouter = false, selectionBias = false;
    int64_t groups = 1, topGroups = 1;
    double routedScale = 1.0, normMin = 0.0;
    /// Phi-3.5-MoE's top-2 SparseMixer routing (routeTopK), which excludes experts by jitterEps.
    bool sparseMixer = false;
    double jitterEps = 0.01;
    bool scored() const { return sigmoidRouter || selectionBias || groups > 1 || routedScale != 1.0 || normMin > 0.0; }
    int64_t denseIntermediate = 0; // the dense layers' MLP
    double alpha = 1.702;
    std::optional<double> limit;
  } mlp;
  /// Multi-head latent attention (DeepSeek-V2/V3): see latentQkv.
  struct LatentPlan {
    int64_t qRank = 0, kvRank = 0, ropeDim = 0;
    bool enabled() const { return kvRank > 0; }
  } latent;
  RopePlan rope;
  std::optional<RopePlan> slidingRope; // the RoPE of the layers marked slidingRope
  bool anyNoRope = false;              // a layer is marked noRope
  std::vector<LayerPlan> layers;
};

[[noreturn]] void fail(const llvm::Twine &message) { throw std::runtime_error(message.str()); }

int64_t integer(const json::Object &o, llvm::StringRef key) {
  std::optional<int64_t> v = o.getInteger(key);
  if (!v)
    fail("model plan: missing integer '" + key + "'");
  return *v;
}
double number(const json::Object &o, llvm::StringRef key) {
  std::optional<double> v = o.getNumber(key);
  if (!v)
    fail("model plan: missing number '" + key + "'");
  return *v;
}
bool boolean(const json::Object &o, llvm::StringRef key) { return o.getBoolean(key).value_or(false); }
std::vector<double> numbers(const json::Object &o, llvm::StringRef key) {
  std::vector<double> out;
  if (const json::Array *a = o.getArray(key))
    for (const json::Value &v : *a)
      out.push_back(v.getAsNumber().value_or(0.0));
  return out;
}

Plan parsePlan(const xfrt_module &module) {
  if (module.info.modelPlan.empty())
    fail("'" + module.path + "' holds no model (it was compiled from attention kernels only, or xfc warned "
                             "that the model cannot run yet)");
  llvm::Expected<json::Value> parsed = json::parse(module.info.modelPlan);
  if (!parsed)
    fail("model plan: " + llvm::toString(parsed.takeError()));
  const json::Object &o = *parsed->getAsObject();
  Plan p;
  p.name = o.getString("name").value_or("").str();
  p.architecture = o.getString("architecture").value_or("").str();
  p.vocab = integer(o, "vocab");
  p.hidden = integer(o, "hidden");
  p.maxPositions = integer(o, "max_positions");
  p.tieEmbeddings = boolean(o, "tie_embeddings");
  p.embedScale = number(o, "embed_scale");
  p.residualScale = number(o, "residual_scale");
  p.logitScale = number(o, "logit_scale");
  p.normEps = number(o, "norm_eps");
  p.unitOffset = boolean(o, "norm_unit_offset");
  p.layerNorm = boolean(o, "layer_norm");
  p.layerNormBias = boolean(o, "layer_norm_bias");
  // Required: plans from before it said sandwich_norms / post_norms / parallel_residual, which this runtime
  // would otherwise take for pre norms.
  std::optional<llvm::StringRef> named = o.getString("norm_placement");
  if (!named)
    fail("model plan: no norm_placement (the artifact is from an older xfc: recompile it)");
  llvm::StringRef placement = *named;
  if (placement == "pre")
    p.placement = Plan::Placement::Pre;
  else if (placement == "sandwich")
    p.placement = Plan::Placement::Sandwich;
  else if (placement == "post")
    p.placement = Plan::Placement::Post;
  else if (placement == "parallel")
    p.placement = Plan::Placement::Parallel;
  else if (placement == "parallel_two_norms")
    p.placement = Plan::Placement::ParallelTwoNorms;
  else
    fail("model plan: unknown norm_placement '" + placement + "'");
  if (const json::Array *prefixes = o.getArray("tensor_prefixes"))
    for (const json::Value &pair : *prefixes) {
      const json::Array *a = pair.getAsArray();
      if (!a || a->size() != 2 || !(*a)[0].getAsString() || !(*a)[1].getAsString())
        fail("model plan: tensor_prefixes holds pairs of strings");
      p.tensorPrefixes.emplace_back((*a)[0].getAsString()->str(), (*a)[1].getAsString()->str());
    }
  p.lmHeadBias = boolean(o, "lm_head_bias");
  p.learnedPositions = boolean(o, "learned_positions");
  if (std::optional<double> c = o.getNumber("final_softcap"))
    p.finalSoftcap = *c;
  const json::Object *mlp = o.getObject("mlp");
  const json::Object *rope = o.getObject("rope");
  const json::Array *layers = o.getArray("layers");
  if (!mlp || !rope || !layers)
    fail("model plan: missing 'mlp', 'rope' or 'layers'");
  p.mlp.activation = mlp->getString("activation").value_or("").str();
  p.mlp.gated = mlp->getBoolean("gated").value_or(true);
  if (!llvm::is_contained({"silu", "gelu", "gelu_tanh", "relu", "relu2"}, p.mlp.activation))
    fail("model plan: the MLP activation '" + p.mlp.activation + "' is not one the runtime computes");
  p.mlp.intermediate = integer(*mlp, "intermediate");
  p.mlp.experts = integer(*mlp, "experts");
  p.mlp.topK = integer(*mlp, "top_k");
  p.mlp.normTopK = mlp->getBoolean("norm_top_k").value_or(true);
  p.mlp.sharedIntermediate = integer(*mlp, "shared_intermediate");
  p.mlp.sharedGate = boolean(*mlp, "shared_gate");
  p.mlp.bias = boolean(*mlp, "bias");
  p.mlp.alpha = number(*mlp, "alpha");
  if (std::optional<double> l = mlp->getNumber("limit"))
    p.mlp.limit = *l;
  const llvm::StringRef router = mlp->getString("router").value_or("softmax");
  p.mlp.sigmoidRouter = router == "sigmoid";
  p.mlp.sparseMixer = router == "sparsemixer";
  p.mlp.jitterEps = mlp->getNumber("jitter_eps").value_or(0.01);
  if (p.mlp.sparseMixer && p.mlp.topK != 2)
    fail("model plan: the sparsemixer router picks 2 experts, not " + llvm::Twine(p.mlp.topK));
  p.mlp.selectionBias = boolean(*mlp, "selection_bias");
  p.mlp.groups = mlp->getInteger("groups").value_or(1);
  p.mlp.topGroups = mlp->getInteger("top_groups").value_or(1);
  p.mlp.routedScale = mlp->getNumber("routed_scale").value_or(1.0);
  p.mlp.normMin = mlp->getNumber("norm_min").value_or(0.0);
  p.mlp.denseIntermediate = mlp->getInteger("dense_intermediate").value_or(p.mlp.intermediate);
  if (p.mlp.experts > 0 && (p.mlp.groups < 1 || p.mlp.experts % p.mlp.groups != 0 || p.mlp.topGroups < 1 ||
                            p.mlp.topGroups > p.mlp.groups))
    fail("model plan: " + llvm::Twine(p.mlp.groups) + " expert groups (" + llvm::Twine(p.mlp.topGroups) +
         " kept) do not fit " + llvm::Twine(p.mlp.experts) + " experts");
  p.mtpLayers = o.getInteger("mtp_layers").value_or(0);
  auto readRope = [&](const json::Object &o) {
    RopePlan r;
    r.rotaryDim = integer(o, "rotary_dim");
    r.invFreq = numbers(o, "inv_freq");
    r.longInvFreq = numbers(o, "long_inv_freq");
    r.attentionFactor = number(o, "attention_factor");
    r.scaling = o.getString("scaling").value_or("none").str();
    r.originalMax = o.getInteger("original_max_position").value_or(0);
    r.factor = o.getNumber("factor").value_or(1.0);
    r.base = o.getNumber("base").value_or(10000.0);
    r.interleaved = boolean(o, "interleaved");
    if (static_cast<int64_t>(r.invFreq.size()) * 2 != r.rotaryDim)
      fail("model plan: rope inv_freq has " + llvm::Twine(r.invFreq.size()) + " entries for rotary dim " +
           llvm::Twine(r.rotaryDim));
    return r;
  };
  p.rope = readRope(*rope);
  if (const json::Object *latent = o.getObject("latent")) {
    p.latent.qRank = integer(*latent, "q_rank");
    p.latent.kvRank = integer(*latent, "kv_rank");
    p.latent.ropeDim = integer(*latent, "rope_dim");
    if (p.latent.kvRank <= 0 || p.latent.qRank < 0 || p.latent.ropeDim != p.rope.rotaryDim)
      fail("model plan: latent attention needs a positive kv rank and RoPE over its rope dims");
  }
  if (const json::Object *sliding = o.getObject("sliding_rope")) {
    p.slidingRope = readRope(*sliding);
    if (p.slidingRope->rotaryDim != p.rope.rotaryDim)
      fail("model plan: the sliding layers' RoPE rotates other dims than the model's");
  }

  for (const json::Value &v : *layers) {
    const json::Object *l = v.getAsObject();
    if (!l)
      fail("model plan: a layer is not an object");
    LayerPlan lp;
    lp.kernel = l->getString("kernel").value_or("").str();
    lp.heads = integer(*l, "heads");
    lp.kvHeads = integer(*l, "kv_heads");
    lp.headDim = integer(*l, "head_dim");
    lp.headDimV = l->getInteger("head_dim_v").value_or(lp.headDim);
    if (lp.headDimV != lp.headDim && !p.latent.enabled())
      fail("model plan: layer " + llvm::Twine(p.layers.size()) + " has value heads of other dims than its keys");
    if (p.latent.enabled() && (lp.kvHeads != lp.heads || p.latent.ropeDim >= lp.headDim))
      fail("model plan: latent attention needs kv_heads = heads and rope dims below head_dim");
    lp.qkNorm = boolean(*l, "qk_norm");
    lp.qkNormProjection = boolean(*l, "qk_norm_projection");
    lp.qkNormHeadGains = boolean(*l, "qk_norm_head_gains");
    lp.qkvBias = boolean(*l, "qkv_bias");
    lp.oBias = boolean(*l, "o_bias");
    lp.learnedSinks = boolean(*l, "learned_sinks");
    lp.slidingRope = l->getBoolean("sliding_rope").value_or(false);
    lp.noRope = l->getBoolean("no_rope").value_or(false);
    lp.denseMlp = p.mlp.experts == 0 || l->getBoolean("dense_mlp").value_or(false);
    p.anyNoRope |= lp.noRope;
    if (lp.slidingRope && !p.slidingRope)
      fail("model plan: layer " + llvm::Twine(p.layers.size()) + " takes the sliding layers' RoPE, which the plan lacks");
    lp.kernelIndex = findKernelIndex(module, lp.kernel.c_str());
    if (lp.kernelIndex < 0)
      fail("model plan: layer " + llvm::Twine(p.layers.size()) + " names kernel '" + lp.kernel +
           "', which the artifact lacks");
    const KernelInfo &k = module.info.kernels[lp.kernelIndex];
    lp.window = k.integerAttribute("window").value_or(0);
    lp.sinkTokens = k.integerAttribute("sink_tokens").value_or(0);
    for (const OperandInfo &operand : k.operands) {
      const std::string &name = operand.name;
      if (name == "query" || name == "key" || name == "value" || name == "output" ||
          (name == "sinks" && lp.learnedSinks))
        continue;
      if (name == "gates") {
        // Mixture-of-head attention: the gates come from the router kernel the variant pass adds beside it.
        const std::string router = lp.kernel + "_router";
        lp.routerIndex = findKernelIndex(module, router.c_str());
        if (lp.routerIndex < 0 || module.info.kernels[lp.routerIndex].kind != "moh_router")
          fail("model plan: layer " + llvm::Twine(p.layers.size()) + ": kernel '" + lp.kernel +
               "' takes head gates, but the artifact has no router kernel '" + router + "'");
        lp.sharedHeads = module.info.kernels[lp.routerIndex].integerAttribute("shared_heads").value_or(0);
      } else if (name == "alpha" || name == "alpha_ma") {
        lp.affine = k.operandIndex("alpha") >= 0 && k.operandIndex("alpha_ma") >= 0;
        if (!lp.affine)
          fail("model plan: layer " + llvm::Twine(p.layers.size()) + ": kernel '" + lp.kernel +
               "' takes one of alpha and alpha_ma without the other");
      } else {
        fail("layer " + llvm::Twine(p.layers.size()) + ": kernel '" + lp.kernel + "' takes operand '" + name +
             "', which the model runtime does not compute yet");
      }
    }
    if (lp.headDim < p.rope.rotaryDim)
      fail("model plan: rotary dim exceeds the head dim");
    p.layers.push_back(std::move(lp));
  }
  if (p.rope.rotaryDim % 2 != 0)
    fail("model plan: odd rotary dim");
  return p;
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

struct LayerWeights {
  std::vector<float> inputNorm, postAttnNorm, preFfnNorm, postFfnNorm, qNorm, kNorm, sinks;
  // A LayerNorm model's norm biases (empty for RMSNorm).
  std::vector<float> inputNormBias, postAttnNormBias, preFfnNormBias, postFfnNormBias;
  Linear qkv, o;
  Linear gateUp, down;                           // dense MLP: gateUp holds [gate | up]
  Linear router;                                 // MoE
  std::vector<float> selectionBias;              // [E]: added to the router's scores to choose (GLM-4.5)
  std::vector<Linear> expertGateUp, expertDown;  // gpt-oss: gate/up interleaved
  Linear sharedGateUp, sharedDown, sharedGate;   // Qwen2-MoE's shared expert and its gate (1 output)
  // Mixture-of-head attention's router weights, as its kernel takes them (float32).
  std::vector<float> mohRouted, mohShared, mohHead;
  Linear alphaProj;            // affine-scaled attention: alpha's pre-activation [heads] per token
  std::vector<float> alphaMa;  // its frozen moving average [heads]
  // Latent attention (latentQkv): q_a_proj (or q_proj), q_b_proj, kv_a_proj_with_mqa, kv_b_proj, and the
  // latents' norm gains.
  Linear qA, qB, kvA, kvB;
  std::vector<float> qANorm, kvANorm;
};

/// How a model keeps its projections (xfrt_model_load_as): one storage for all of them, or, when unset
/// ("auto"), what the checkpoint stores.
using WeightPolicy = std::optional<Storage>;

WeightPolicy parseWeightPolicy(const char *name) {
  std::string n = name ? name : "auto";
  if (n == "auto")
    return std::nullopt;
  if (std::optional<Storage> storage = dense::storageNamed(n))
    return storage;
  fail("weight type '" + n + "' is not one of auto, f32, bf16, f16");
}

/// Where a model load reports the checkpoint bytes it has read (xfrt_model_load_with_progress).
struct LoadProgress {
  xfrt_progress_fn callback = nullptr;
  void *user = nullptr;
};

/// Reads weights by HF name, remembering which were used so leftovers can be reported.
class WeightReader {
public:
  WeightReader(const WeightStore &store, WeightPolicy policy, const LoadProgress &progress)
      : store(store), policy(policy), progress(progress), total(store.totalBytes()) {}

  std::vector<float> read(const std::string &name, std::vector<int64_t> shape) {
    std::vector<float> data(static_cast<size_t>(elements(shape)));
    readInto(name, shape, data.data());
    return data;
  }
  /// Reads into caller memory (room for the shape's elements).
  void readInto(const std::string &name, const std::vector<int64_t> &shape, float *dst) {
    std::string error = store.readF32(name, shape, dst);
    if (!error.empty())
      fail(error);
    markRead(name);
  }
  /// A float32 staging buffer of at least n elements, reused from projection to projection: a large load
  /// then faults its pages in once, not once per tensor.
  float *staging(int64_t n) {
    if (static_cast<int64_t>(stage.size()) < n)
      stage.resize(static_cast<size_t>(n));
    return stage.data();
  }
  static int64_t elements(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  bool has(const std::string &name) const { return store.find(name) != nullptr; }
  /// gpt-oss experts [E, in, out] published as MXFP4 `name`_blocks / _scales: calls take(e, blocks, scales)
  /// with each expert's slice and returns true. False (nothing read) otherwise.
  bool mxfp4Experts(const std::string &name, const std::vector<int64_t> &shape,
                    const std::function<void(int64_t, const uint8_t *, const uint8_t *)> &take) {
    if (has(name) || !has(name + "_blocks"))
      return false;
    const WeightInfo *blocks = nullptr, *scales = nullptr;
    if (std::string error = store.findMxfp4(name, shape, blocks, scales); !error.empty())
      fail(error);
    const int64_t E = shape[0], perExpert = shape[1] / 32 * shape[2];
    for (int64_t e = 0; e < E; ++e)
      take(e, blocks->data + e * perExpert * 16, scales->data + e * perExpert);
    markRead(name + "_blocks");
    markRead(name + "_scales");
    return true;
  }
  /// gpt-oss expert weights [E, in, out]: the tensor `name`, or its MXFP4 `_blocks` and `_scales` pair
  /// (how the published checkpoints store them), dequantized exactly.
  std::vector<float> readExperts(const std::string &name, const std::vector<int64_t> &shape) {
    std::vector<float> data(static_cast<size_t>(elements(shape)));
    readExpertsInto(name, shape, data.data());
    return data;
  }
  void readExpertsInto(const std::string &name, const std::vector<int64_t> &shape, float *dst) {
    if (has(name) || !has(name + "_blocks"))
      return readInto(name, shape, dst);
    std::string error = store.readMxfp4(name, shape, dst);
    if (!error.empty())
      fail(error);
    markRead(name + "_blocks");
    markRead(name + "_scales");
  }
  void ignore(const std::string &name) { markRead(name); }
  /// The checkpoint's multi-token-prediction layers, not part of the model, so not read: model.layers.N.*
  /// from the model's last layer on (GLM-4.5), or as ERNIE 4.5's class skips them, every name holding "mtp".
  void skipMtpLayers(const Plan &p) {
    const bool ernie = p.architecture == "Ernie4_5_MoeForCausalLM";
    for (const std::string &name : store.unused(used)) {
      bool mtp = ernie && llvm::StringRef(name).contains("mtp");
      for (int64_t i = 0; i < p.mtpLayers && !mtp; ++i)
        mtp = llvm::StringRef(name).starts_with("model.layers." + std::to_string(p.layers.size() + i) + ".");
      if (mtp)
        markRead(name);
    }
  }
  /// Refuses tensors the model did not read, then reports every byte accounted for.
  void finish(const std::string &modelName) const {
    std::vector<std::string> extra = store.unused(used);
    if (!extra.empty())
      fail("unexpected weight '" + extra.front() + "'" +
           (extra.size() > 1 ? " (and " + std::to_string(extra.size() - 1) + " more)" : std::string()) +
           ": the model '" + modelName + "' has no such parameter");
    if (progress.callback)
      progress.callback(progress.user, static_cast<int64_t>(total), static_cast<int64_t>(total));
  }

  /// The storage of a projection made of `tensors`: under Auto, 16-bit where all of them are stored in
  /// the same 16-bit type (widening and narrowing back is exact), else float32.
  Storage storageFor(std::initializer_list<std::string> tensors) const { return storageFor(std::vector(tensors)); }
  Storage storageFor(const std::vector<std::string> &tensors) const {
    if (policy)
      return *policy;
    std::optional<WeightType> common;
    for (const std::string &name : tensors) {
      const WeightInfo *info = store.find(name);
      // MXFP4 values (e2m1 times a power of two) are exact in bf16.
      WeightType type = !info && store.find(name + "_blocks") ? WeightType::BF16 : info ? info->type : WeightType::F32;
      if (!info && type != WeightType::BF16)
        return Storage::F32;
      if (common && *common != type)
        return Storage::F32;
      common = type;
    }
    if (common == WeightType::BF16)
      return Storage::BF16;
    if (common == WeightType::F16)
      return Storage::F16;
    return Storage::F32;
  }

  void linear(Linear &l, const std::string &prefix, int64_t out, int64_t in, bool bias, bool transposed = false) {
    fused(l, {{prefix, out}}, in, bias, nullptr, transposed);
  }

  /// Several nn.Linear stacked along their outputs into one (fused QKV, fused gate/up). 16-bit tensors kept
  /// in their own type are copied from the checkpoint into the panels as they are; others are read into
  /// the staging buffer and converted. With `rowOf`, output row n (weight and bias) is stored row rowOf(n)
  /// of the stack (GPT-NeoX's q, k and v regrouped from per-head order). `transposed`: one part, stored
  /// [in, out] (GPT-2's Conv1D).
  void fused(Linear &l, const std::vector<std::pair<std::string, int64_t>> &parts, int64_t in, bool bias,
             const std::function<int64_t(int64_t)> &rowOf = nullptr, bool transposed = false) {
    if (transposed && (parts.size() != 1 || rowOf))
      throw std::logic_error("WeightReader::fused: a transposed weight is read as one part, in order");
    int64_t out = 0;
    std::vector<std::string> names;
    for (const auto &[prefix, rows] : parts) {
      out += rows;
      names.push_back(prefix + ".weight");
    }
    const Storage storage = storageFor(names);
    std::vector<const WeightInfo *> infos;
    for (size_t i = 0; i < parts.size(); ++i) {
      const WeightInfo *info = nullptr;
      const std::vector<int64_t> shape = transposed ? std::vector<int64_t>{in, parts[i].second}
                                                    : std::vector<int64_t>{parts[i].second, in};
      if (std::string error = store.checkFloat(names[i], shape, info); !error.empty())
        fail(error);
      infos.push_back(info);
    }
    std::vector<float> b(bias ? static_cast<size_t>(out) : 0);
    int64_t row = 0;
    for (const auto &[prefix, rows] : parts) {
      if (bias)
        readInto(prefix + ".bias", {rows}, b.data() + row);
      row += rows;
    }
    if (rowOf && bias) {
      std::vector<float> stored = std::move(b);
      b.resize(stored.size());
      for (int64_t n = 0; n < out; ++n)
        b[n] = stored[rowOf(n)];
    }
    const WeightType same = storage == Storage::BF16 ? WeightType::BF16 : WeightType::F16;
    if (!transposed && storage != Storage::F32 &&
        llvm::all_of(infos, [&](const WeightInfo *info) { return info->type == same; })) {
      l.assignRows16(
          [&](int64_t n) {
            if (rowOf)
              n = rowOf(n);
            size_t part = 0;
            for (; n >= parts[part].second; ++part)
              n -= parts[part].second;
            return infos[part]->data + 2 * n * in;
          },
          out, in, bias ? b.data() : nullptr, storage);
    } else {
      float *w = staging(out * in);
      row = 0;
      for (size_t i = 0; i < parts.size(); ++i) {
        readInto(names[i], transposed ? std::vector<int64_t>{in, parts[i].second}
                                      : std::vector<int64_t>{parts[i].second, in},
                 w + row * in);
        row += parts[i].second;
      }
      std::vector<float> regrouped;
      if (rowOf) {
        regrouped.resize(static_cast<size_t>(out * in));
        for (int64_t n = 0; n < out; ++n)
          std::memcpy(regrouped.data() + n * in, w + rowOf(n) * in, sizeof(float) * in);
        w = regrouped.data();
      }
      l.assign(w, out, in, transposed, bias ? b.data() : nullptr, storage);
    }
    for (const std::string &name : names)
      markRead(name);
  }

  const WeightStore &store;
  const WeightPolicy policy;
  llvm::StringSet<> used;

private:
  void markRead(const std::string &name) {
    const WeightInfo *info = store.find(name);
    if (!info || !used.insert(name).second)
      return;
    done += info->bytes;
    if (progress.callback && done < total)
      progress.callback(progress.user, static_cast<int64_t>(done), static_cast<int64_t>(total));
  }

  const LoadProgress &progress;
  uint64_t total, done = 0;
  std::vector<float> stage;
};

} // namespace

/// A model compiled for a GPU target reads its weights in the Hugging Face layout [out, in] and keeps the
/// projections so (as f32, or as bf16 pairs of consecutive inputs in 32-bit words) for the dense GPU
/// kernels (xf-add-dense-kernels).
struct GpuLayerWeights {
  /// A dense MLP's gate and up projections stacked into one [2I, in] (rows gate, then up), like q | k | v.
  std::vector<float> qkv, o, gateUp, down;
  std::vector<float> qkvBias, oBias, gateUpBias, downBias; // empty where the model has none
  // MoE: the router, and each expert's projections in the same layout, read per expert and then stacked
  // ([E, out, in], biases [E, out]) for the routed kernels.
  std::vector<float> router, routerBias;
  // Each expert's gate and up stacked into one [2I, in] too (as gateUp).
  std::vector<std::vector<float>> expertGateUp, expertDown, expertGateUpBias, expertDownBias;
  std::vector<float> gateUpStack, downStack, gateUpBiasStack, downBiasStack;
  // Qwen2-MoE's shared expert ([gate | up] [2Is, in], down [H, Is]) and its gate [1, in].
  std::vector<float> sharedGateUp, sharedDown, sharedGate;
  std::vector<float> alphaProj; // affine-scaled attention's [heads, in]
  // Latent attention (readGpuLatent): q_a_proj or q_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj.
  std::vector<float> qA, qABias, qB, kvA, kvABias, kvB;
};

struct xfrt_model_s {
  const xfrt_module *module = nullptr;
  Plan plan;
  std::vector<float> embedding; // [vocab, hidden]; on the CPU only for a float32 table
  /// The CPU's embedding table as the checkpoint stores it when that is bf16 or f16 (embeddingStorage).
  std::vector<uint16_t> embedding16;
  dense::Storage embeddingStorage = dense::Storage::F32;
  std::vector<float> finalNorm, finalNormBias; // the bias of a LayerNorm model
  std::vector<float> positionTable;            // [max_positions, hidden] (GPT-2's wpe), else empty
  Linear lmHead;
  std::vector<LayerWeights> layers;
  bool gpu = false; // the module's target is not the CPU: dense ops run as the module's kernels
  /// How the prefill products multiply (xfrt_model_load_with): on the CPU the GEMMs; on CUDA, Dot::BF16
  /// sends the projections of many rows to cuBLAS's bf16 GEMM (xf_dense_round_bf16, xf_dense_dot_bf16).
  dense::Dot dot = dense::Dot::F32;
  std::vector<GpuLayerWeights> gpuLayers;
  std::vector<float> gpuLmHead;     // [vocab, hidden]
  std::vector<float> gpuLmHeadBias; // [vocab] (Phi), else empty
  /// The GPU projections stored as bf16 pairs in 32-bit words ([out, ceil(in / 2)], for
  /// xf_dense_matmul_bf16), by their data pointer (stable when the vectors move).
  llvm::DenseSet<const float *> gpuBf16;
};

namespace {

/// GPT-NeoX: its tensors are named under gpt_neox. (Plan::tensorPrefixes) and per layer as below.
bool isNeoX(const Plan &p) { return p.architecture == "GPTNeoXForCausalLM"; }
/// GPT-2: Conv1D projections, W stored [in, out] (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj), norms ln_1
/// and ln_2, its tensors under transformer. (or none: a checkpoint saved from GPT2Model).
bool isGpt2(const Plan &p) { return p.architecture == "GPT2LMHeadModel"; }
/// The bias of norm `name`: a LayerNorm's, zeros for one without (Cohere's), none for an RMSNorm.
std::vector<float> readNormBias(WeightReader &r, const Plan &p, const std::string &name, int64_t width) {
  if (!p.layerNorm)
    return {};
  if (!p.layerNormBias)
    return std::vector<float>(static_cast<size_t>(width), 0.0f);
  return r.read(name + ".bias", {width});
}

/// Phi-3 and GLM store an MLP's gate and up projections as one, gate_up_proj: the gate's rows, then up's.
bool fusedGateUp(const Plan &p) {
  return p.architecture == "Phi3ForCausalLM" || p.architecture == "GlmForCausalLM" ||
         p.architecture == "Glm4ForCausalLM";
}

/// Head dim d as the kernels rotate it, taken from the model's dim ropeDimOf(d): where the model rotates
/// pairs (2i, 2i + 1) of its first R dims (RopePlan::interleaved), q and k keep dim 2i at i and 2i + 1 at
/// i + R / 2, the pair the kernels rotate with frequency i. The same permutation of q and k leaves every
/// score q . k as it was.
int64_t ropeDimOf(int64_t d, int64_t rotaryDim) {
  if (d >= rotaryDim)
    return d;
  return d < rotaryDim / 2 ? 2 * d : 2 * (d - rotaryDim / 2) + 1;
}


/// The per-layer vectors both weight layouts share: norms, q/k norms, learned sinks, the variants' router
/// weights and alpha_ma, latent attention's norm gains.
void readLayerVectors(WeightReader &r, const Plan &p, const LayerPlan &lp, const std::string &pre, LayerWeights &w) {
  int64_t H = p.hidden;
  // A LayerNorm's bias beside each gain.
  auto norm = [&](const char *name, std::vector<float> &gain, std::vector<float> &bias) {
    gain = r.read(pre + name + ".weight", {H});
    bias = readNormBias(r, p, pre + name, H);
  };
  // The norm after attention, before the MLP and after it: Gemma's and OLMo 2's names, or GLM-4's (which
  // names its sandwich norms after the block they follow).
  const bool glm4 = p.architecture == "Glm4ForCausalLM" && p.sandwich();
  const char *postAttn = glm4 ? "post_self_attn_layernorm" : "post_attention_layernorm",
             *preFfn = glm4 ? "post_attention_layernorm" : "pre_feedforward_layernorm",
             *postFfn = glm4 ? "post_mlp_layernorm" : "post_feedforward_layernorm";
  if (!p.postNorms())
    norm(isGpt2(p) ? "ln_1" : "input_layernorm", w.inputNorm, w.inputNormBias);
  if (!p.parallel() || p.twoNorms())
    norm(isGpt2(p) ? "ln_2" : postAttn, w.postAttnNorm, w.postAttnNormBias);
  if (p.sandwich())
    norm(preFfn, w.preFfnNorm, w.preFfnNormBias);
  if (p.sandwich() || p.postNorms())
    norm(postFfn, w.postFfnNorm, w.postFfnNormBias);
  if (lp.qkNorm) {
    const int64_t D = lp.headDim;
    // The gains: [D] shared by every head, [heads, D] (StableLM's one tensor per head), or [heads * D] over
    // the whole projection.
    auto gains = [&](const char *which, int64_t heads) {
      const std::string attn = pre + "self_attn." + which;
      if (lp.qkNormHeadGains && p.architecture == "StableLmForCausalLM") {
        std::vector<float> all(static_cast<size_t>(heads * D));
        for (int64_t h = 0; h < heads; ++h)
          r.readInto(attn + "_layernorm.norms." + std::to_string(h) + ".weight", {D}, all.data() + h * D);
        return all;
      }
      if (lp.qkNormHeadGains)
        return r.read(attn + "_norm.weight", {heads, D});
      return r.read(attn + "_norm.weight", {lp.qkNormProjection ? heads * D : D});
    };
    w.qNorm = gains("q", lp.heads);
    w.kNorm = gains("k", lp.kvHeads);
    if (p.rope.interleaved)
      // Each head's gains in the order its q and k rows are kept (qkvRowOf).
      for (std::vector<float> *gains : {&w.qNorm, &w.kNorm}) {
        std::vector<float> stored = *gains;
        for (size_t i = 0; i < gains->size(); ++i) {
          const int64_t D = lp.headDim, n = static_cast<int64_t>(i);
          (*gains)[i] = stored[n / D * D + ropeDimOf(n % D, p.rope.rotaryDim)];
        }
      }
  }
  if (lp.learnedSinks)
    w.sinks = r.read(pre + "self_attn.sinks", {lp.heads});
  if (lp.routerIndex >= 0) {
    const std::string router = pre + "self_attn.moh_router.";
    w.mohRouted = r.read(router + "w_routed", {lp.heads - lp.sharedHeads, H});
    w.mohShared = r.read(router + "w_shared", {lp.sharedHeads, H});
    w.mohHead = r.read(router + "w_head", {2, H});
  }
  if (lp.affine)
    w.alphaMa = r.read(pre + "self_attn.alpha_ma", {lp.heads});
  if (p.latent.qRank > 0)
    w.qANorm = r.read(pre + "self_attn.q_a_layernorm.weight", {p.latent.qRank});
  if (p.latent.enabled())
    w.kvANorm = r.read(pre + "self_attn.kv_a_layernorm.weight", {p.latent.kvRank});
  r.ignore(pre + "self_attn.rotary_emb.inv_freq"); // a buffer older checkpoints saved
  if (isNeoX(p))
    // Buffers older GPT-NeoX checkpoints saved: the causal mask, its fill value, the RoPE frequencies.
    for (const char *buffer : {"attention.bias", "attention.masked_bias", "attention.rotary_emb.inv_freq"})
      r.ignore(pre + buffer);
  if (isGpt2(p))
    // GPT-2's: the causal mask and its fill value.
    for (const char *buffer : {"attn.bias", "attn.masked_bias"})
      r.ignore(pre + buffer);
}

/// Where latent attention keeps the rows of its projections (row n kept = row rowOf(n) stored), for
/// latentQkv and xf_dense_latent_qkv: a head of q (q_proj or q_b_proj), stored [unrotated | rotated], is
/// kept [rotated | unrotated], and kv_a_proj_with_mqa's rotated rows, with the rotated dims permuted by
/// ropeDimOf where the model rotates pairs (2i, 2i + 1) (DeepSeek-V3's rope_interleave), so the kernels
/// rotate a head's first dims as everywhere else; kv_b_proj's rows, stored per head [unrotated keys |
/// values], are kept as every head's keys, then every head's values.
struct LatentRows {
  std::function<int64_t(int64_t)> query, latent, keysValues;
};

LatentRows latentRows(const Plan &p, const LayerPlan &lp) {
  const int64_t D = lp.headDim, Dv = lp.headDimV, R = p.latent.ropeDim, nope = D - R, rank = p.latent.kvRank,
                keyRows = lp.heads * nope;
  const bool interleaved = p.rope.interleaved;
  auto rotated = [=](int64_t d) { return interleaved ? ropeDimOf(d, R) : d; };
  return {[=](int64_t n) {
            const int64_t head = n / D, d = n % D;
            return head * D + (d < R ? nope + rotated(d) : d - R);
          },
          [=](int64_t n) { return n < rank ? n : rank + rotated(n - rank); },
          [=](int64_t n) {
            return n < keyRows ? n / nope * (nope + Dv) + n % nope
                               : (n - keyRows) / Dv * (nope + Dv) + nope + (n - keyRows) % Dv;
          }};
}

/// One of latent attention's projections as the checkpoint stores it, [out, in] (prefix: its tensor name
/// without `.weight`), whether it has the attention bias, and where its rows are kept (null: as stored).
struct LatentProjection {
  std::string prefix;
  int64_t out = 0, in = 0;
  bool bias = false;
  std::function<int64_t(int64_t)> rowOf;
};

/// q_a_proj (or q_proj), q_b_proj (none without the query latent), kv_a_proj_with_mqa and kv_b_proj, rows
/// kept as latentRows says; the attention bias on q_a_proj, kv_a_proj_with_mqa (and o_proj) only.
std::array<LatentProjection, 4> latentProjections(const Plan &p, const LayerPlan &lp, const std::string &pre) {
  const Plan::LatentPlan &lat = p.latent;
  const int64_t H = p.hidden, D = lp.headDim, R = lat.ropeDim, qRows = lp.heads * D;
  const LatentRows rows = latentRows(p, lp);
  const std::string attn = pre + "self_attn.";
  LatentProjection kvA{attn + "kv_a_proj_with_mqa", lat.kvRank + R, H, lp.oBias, rows.latent},
      kvB{attn + "kv_b_proj", lp.heads * (D - R + lp.headDimV), lat.kvRank, false, rows.keysValues};
  if (lat.qRank == 0)
    return {LatentProjection{attn + "q_proj", qRows, H, false, rows.query}, LatentProjection{}, kvA, kvB};
  return {LatentProjection{attn + "q_a_proj", lat.qRank, H, lp.oBias, nullptr},
          LatentProjection{attn + "q_b_proj", qRows, lat.qRank, false, rows.query}, kvA, kvB};
}

/// The GPU's latent attention projections: [out, in] float32 (bf16 pairs later, as the other projections).
void readGpuLatent(WeightReader &r, const Plan &p, const LayerPlan &lp, const std::string &pre, GpuLayerWeights &g) {
  // Row n of the kept [out, in] matrix (or bias: in = 1) is row rowOf(n) of the stored one.
  auto kept = [](std::vector<float> stored, int64_t out, int64_t in, const std::function<int64_t(int64_t)> &rowOf) {
    if (!rowOf)
      return stored;
    std::vector<float> w(stored.size());
    for (int64_t n = 0; n < out; ++n)
      std::copy_n(stored.begin() + rowOf(n) * in, in, w.begin() + n * in);
    return w;
  };
  std::vector<float> *weights[] = {&g.qA, &g.qB, &g.kvA, &g.kvB}, *biases[] = {&g.qABias, nullptr, &g.kvABias, nullptr};
  const std::array<LatentProjection, 4> parts = latentProjections(p, lp, pre);
  for (size_t i = 0; i < parts.size(); ++i) {
    const LatentProjection &part = parts[i];
    if (part.prefix.empty())
      continue;
    *weights[i] = kept(r.read(part.prefix + ".weight", {part.out, part.in}), part.out, part.in, part.rowOf);
    if (part.bias)
      *biases[i] = kept(r.read(part.prefix + ".bias", {part.out}), part.out, 1, part.rowOf);
  }
}

/// The CPU's latent attention projections, in panels.
void readLatentAttention(WeightReader &r, const Plan &p, const LayerPlan &lp, const std::string &pre,
                         LayerWeights &w) {
  Linear *into[] = {&w.qA, &w.qB, &w.kvA, &w.kvB};
  const std::array<LatentProjection, 4> parts = latentProjections(p, lp, pre);
  for (size_t i = 0; i < parts.size(); ++i)
    if (!parts[i].prefix.empty())
      r.fused(*into[i], {{parts[i].prefix, parts[i].out}}, parts[i].in, parts[i].bias, parts[i].rowOf);
}

/// The checkpoint tensors whose rows, stacked, hold a layer's q, k and v: Phi-3's qkv_proj, GPT-NeoX's
/// query_key_value (per head: see qkvRowOf), or q_proj, k_proj and v_proj.
std::vector<std::pair<std::string, int64_t>> qkvParts(const Plan &p, const LayerPlan &lp, const std::string &pre) {
  const int64_t qRows = lp.heads * lp.headDim, kvRows = lp.kvHeads * lp.headDim;
  if (p.architecture == "Phi3ForCausalLM")
    return {{pre + "self_attn.qkv_proj", qRows + 2 * kvRows}};
  if (isGpt2(p))
    return {{pre + "attn.c_attn", qRows + 2 * kvRows}};
  if (isNeoX(p))
    return {{pre + "attention.query_key_value", qRows + 2 * kvRows}};
  return {{pre + "self_attn.q_proj", qRows}, {pre + "self_attn.k_proj", kvRows}, {pre + "self_attn.v_proj", kvRows}};
}

/// Row n of the [q | k | v] projection the runtime keeps is row rowOf(n) of qkvParts' stack: GPT-NeoX's
/// per-head [q | k | v] regrouped, and interleaved RoPE's dims permuted in q and k. Null when the two
/// agree.
std::function<int64_t(int64_t)> qkvRowOf(const Plan &p, const LayerPlan &lp) {
  const bool neox = isNeoX(p), interleaved = p.rope.interleaved;
  if (!neox && !interleaved)
    return nullptr;
  const int64_t D = lp.headDim, heads = lp.heads, qkRows = (lp.heads + lp.kvHeads) * D, R = p.rope.rotaryDim;
  return [=](int64_t n) {
    if (interleaved && n < qkRows)
      n = n / D * D + ropeDimOf(n % D, R);
    if (!neox)
      return n;
    const int64_t part = n / (heads * D), head = n % (heads * D) / D, d = n % D;
    return (head * 3 + part) * D + d;
  };
}

/// The tensor names of a mixture of per-expert nn.Linear weights, within a layer: Mixtral's
/// block_sparse_moe.{gate, experts.E.w1/w3/w2}, or Qwen2- and Qwen3-MoE's
/// mlp.{gate, experts.E.gate_proj/up_proj/down_proj}; the shared expert's prefix (mlp.shared_expert, or
/// mlp.shared_experts in GLM-4.5, dots.llm1, ERNIE 4.5 and DeepSeek-V3).
struct ExpertNames {
  std::string router, prefix, gate, up, down, shared = "mlp.shared_expert";
  std::string expert(int64_t e) const { return prefix + ".experts." + std::to_string(e) + "."; }
};

/// The selection bias of a layer's router (`pre` its prefix) as stored: GLM-4.5's and dots.llm1's
/// mlp.gate.e_score_correction_bias [E] or ERNIE 4.5's mlp.moe_statics.e_score_correction_bias [1, E].
std::pair<std::string, std::vector<int64_t>> selectionBiasTensor(const Plan &p, const std::string &pre) {
  if (p.architecture == "Ernie4_5_MoeForCausalLM")
    return {pre + "mlp.moe_statics.e_score_correction_bias", {1, p.mlp.experts}};
  return {pre + "mlp.gate.e_score_correction_bias", {p.mlp.experts}};
}

/// The projections of a dense MLP without a gate: Starcoder 2's mlp.c_fc / mlp.c_proj, otherwise
/// mlp.up_proj / mlp.down_proj.
struct DenseMlpNames {
  std::string up, down;
};

DenseMlpNames denseMlpNames(const Plan &p) {
  if (p.architecture == "Starcoder2ForCausalLM" || isGpt2(p))
    return {"mlp.c_fc", "mlp.c_proj"};
  if (p.architecture == "PhiForCausalLM")
    return {"mlp.fc1", "mlp.fc2"};
  if (isNeoX(p))
    return {"mlp.dense_h_to_4h", "mlp.dense_4h_to_h"};
  return {"mlp.up_proj", "mlp.down_proj"};
}

/// The attention output projection within a layer (Phi: self_attn.dense; GPT-NeoX: attention.dense) and
/// the final norm.
std::string outProjection(const Plan &p) {
  return p.architecture == "PhiForCausalLM" ? "self_attn.dense"
         : isNeoX(p)                         ? "attention.dense"
         : isGpt2(p)                         ? "attn.c_proj"
                                             : "self_attn.o_proj";
}
std::string finalNormName(const Plan &p) {
  return p.architecture == "PhiForCausalLM" ? "model.final_layernorm" : "model.norm";
}

ExpertNames expertNames(const Plan &p) {
  if (p.architecture == "Glm4MoeForCausalLM" || p.architecture == "Dots1ForCausalLM" ||
      p.architecture == "Ernie4_5_MoeForCausalLM" || p.architecture == "DeepseekV3ForCausalLM")
    return {"mlp.gate", "mlp", "gate_proj", "up_proj", "down_proj", "mlp.shared_experts"};
  if (p.architecture == "Qwen3MoeForCausalLM" || p.architecture == "Qwen2MoeForCausalLM" ||
      p.architecture == "OlmoeForCausalLM")
    return {"mlp.gate", "mlp", "gate_proj", "up_proj", "down_proj"};
  return {"block_sparse_moe.gate", "block_sparse_moe", "w1", "w3", "w2"};
}

/// How router logits choose and weigh experts (Plan::mlp's routing fields).
/// SparseMixer's choice among `lg` without `skip` (-1: none): the largest logit m (the lower expert on
/// ties) and its softmax among the experts whose logits l are not excluded by (m - l) / max(|l|, m) > 2 eps
/// (0 / 0 excludes none; `skip` is excluded too).
std::pair<int64_t, float> sparseMixerChoice(const float *lg, int64_t E, int64_t skip, double eps) {
  int64_t best = -1;
  for (int64_t e = 0; e < E; ++e)
    if (e != skip && (best < 0 || lg[e] > lg[best]))
      best = e;
  const float m = lg[best];
  double sum = 0.0;
  for (int64_t e = 0; e < E; ++e) {
    const float factor = std::max(std::fabs(lg[e]), m);
    if (e != skip && !((m - lg[e]) / factor > static_cast<float>(2 * eps)))
      sum += std::exp(static_cast<double>(lg[e]) - m);
  }
  return {best, static_cast<float>(1.0 / sum)};
}

/// Top-k routing of S tokens from router logits (row stride `stride`) by the plan's MLP `r`: per expert, the
/// tokens sent to it with their weights. Plain routing takes the k largest logits (ties to the lower expert,
/// as torch.topk) weighed by the softmax over them, or with `normTopK` false their softmax over all experts.
/// Scored routing scores s = sigmoid(logit) or the softmax over all and chooses by c = s + `selectionBias`
/// ([experts], or null for none): each group of experts is scored by its two largest c, the experts outside
/// the topGroups best groups choose with c = 0, and the k largest c (ties to the lower expert) are weighed by
/// s / max(sum s + eps, normMin) (eps 1e-20 for sigmoid scores, 0 for softmax ones; s alone without
/// normTopK) times routedScale. SparseMixer routing takes two sparseMixerChoice-s, the second without the
/// first.
std::vector<std::vector<std::pair<int64_t, float>>> routeTopK(const float *logits, int64_t S, int64_t stride,
                                                              const Plan::MlpPlan &r, const float *selectionBias) {
  const int64_t E = r.experts, K = r.topK;
  std::vector<std::vector<std::pair<int64_t, float>>> routed(E);
  std::vector<int64_t> order(E), groupOrder(r.groups);
  std::vector<float> score(E), choice(E), groupScore(r.groups);
  for (int64_t t = 0; t < S; ++t) {
    const float *lg = logits + t * stride;
    for (int64_t e = 0; e < E; ++e)
      order[e] = e;
    if (r.sparseMixer) {
      const auto [first, w1] = sparseMixerChoice(lg, E, -1, r.jitterEps);
      const auto [second, w2] = sparseMixerChoice(lg, E, first, r.jitterEps);
      routed[first].push_back({t, w1});
      routed[second].push_back({t, w2});
      continue;
    }
    if (!r.scored()) {
      std::partial_sort(order.begin(), order.begin() + K, order.end(),
                        [&](int64_t a, int64_t b) { return lg[a] > lg[b] || (lg[a] == lg[b] && a < b); });
      double mx = lg[order[0]], sum = 0.0;
      for (int64_t k = 0; k < (r.normTopK ? K : E); ++k)
        sum += std::exp(static_cast<double>(lg[r.normTopK ? order[k] : k]) - mx);
      for (int64_t k = 0; k < K; ++k)
        routed[order[k]].push_back({t, static_cast<float>(std::exp(lg[order[k]] - mx) / sum)});
      continue;
    }
    if (r.sigmoidRouter) {
      for (int64_t e = 0; e < E; ++e)
        score[e] = 1.0f / (1.0f + std::exp(-lg[e]));
    } else {
      const float mx = *std::max_element(lg, lg + E);
      double sum = 0.0;
      for (int64_t e = 0; e < E; ++e)
        sum += std::exp(static_cast<double>(lg[e]) - mx);
      for (int64_t e = 0; e < E; ++e)
        score[e] = static_cast<float>(std::exp(static_cast<double>(lg[e]) - mx) / sum);
    }
    for (int64_t e = 0; e < E; ++e)
      choice[e] = score[e] + (selectionBias ? selectionBias[e] : 0.0f);
    if (r.topGroups < r.groups) {
      const int64_t per = E / r.groups;
      for (int64_t g = 0; g < r.groups; ++g) {
        float first = -INFINITY, second = -INFINITY;
        for (int64_t e = g * per; e < (g + 1) * per; ++e) {
          if (choice[e] > first) {
            second = first;
            first = choice[e];
          } else if (choice[e] > second) {
            second = choice[e];
          }
        }
        groupScore[g] = first + second;
        groupOrder[g] = g;
      }
      std::partial_sort(groupOrder.begin(), groupOrder.begin() + r.topGroups, groupOrder.end(),
                        [&](int64_t a, int64_t b) {
                          return groupScore[a] > groupScore[b] || (groupScore[a] == groupScore[b] && a < b);
                        });
      std::vector<bool> kept(r.groups, false);
      for (int64_t g = 0; g < r.topGroups; ++g)
        kept[groupOrder[g]] = true;
      for (int64_t e = 0; e < E; ++e)
        if (!kept[e / per])
          choice[e] = 0.0f;
    }
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int64_t a, int64_t b) {
      return choice[a] > choice[b] || (choice[a] == choice[b] && a < b);
    });
    double sum = 0.0;
    for (int64_t k = 0; k < K; ++k)
      sum += score[order[k]];
    const double den = r.normTopK ? std::max(sum + (r.sigmoidRouter ? 1e-20 : 0.0), r.normMin) : 1.0;
    for (int64_t k = 0; k < K; ++k)
      routed[order[k]].push_back({t, static_cast<float>(score[order[k]] / den * r.routedScale)});
  }
  return routed;
}

void loadWeights(xfrt_model &m, const WeightStore &store, WeightPolicy policy, const LoadProgress &progress) {
  const Plan &p = m.plan;
  // Panels are filled on every core (Linear::assign), each thread first touching the pages it writes.
  ThreadPool pool(std::max(1u, std::thread::hardware_concurrency()));
  dense::ScopedPool scoped(pool);
  WeightReader r(store, policy, progress);
  const int64_t H = p.hidden;
  // The embedding table stays in the checkpoint's 16-bit type (exact; rows are widened as tokens look them
  // up): for large vocabularies it is the biggest tensor after the projections.
  const std::string embedName = "model.embed_tokens.weight";
  const WeightInfo *embedInfo = store.find(embedName);
  m.embeddingStorage = !embedInfo                          ? Storage::F32
                       : embedInfo->type == WeightType::BF16 ? Storage::BF16
                       : embedInfo->type == WeightType::F16  ? Storage::F16
                                                             : Storage::F32;
  float *table = r.staging(p.vocab * H);
  r.readInto(embedName, {p.vocab, H}, table);
  if (m.embeddingStorage == Storage::F32) {
    m.embedding.assign(table, table + p.vocab * H);
  } else {
    m.embedding16.resize(static_cast<size_t>(p.vocab * H));
    dense::toStorage16(table, m.embedding16.data(), m.embedding16.size(), m.embeddingStorage);
  }
  if (p.tieEmbeddings)
    m.lmHead.assign(table, p.vocab, H, false, nullptr, r.storageFor({embedName}));
  m.finalNorm = r.read(finalNormName(p) + ".weight", {H});
  m.finalNormBias = readNormBias(r, p, finalNormName(p), H);
  if (p.learnedPositions)
    m.positionTable = r.read("model.embed_positions.weight", {p.maxPositions, H});
  if (p.tieEmbeddings) {
    if (r.has("lm_head.weight"))
      r.ignore("lm_head.weight"); // some checkpoints store the tied copy
  } else {
    r.linear(m.lmHead, "lm_head", p.vocab, H, p.lmHeadBias);
  }
  const bool graniteMoe = p.architecture == "GraniteMoeForCausalLM";
  bool perExpert = p.mlp.experts > 0 && !p.mlp.limit && !graniteMoe;
  const ExpertNames names = expertNames(p);
  for (size_t l = 0; l < p.layers.size(); ++l) {
    const LayerPlan &lp = p.layers[l];
    LayerWeights &w = m.layers.emplace_back();
    std::string pre = "model.layers." + std::to_string(l) + ".";
    readLayerVectors(r, p, lp, pre, w);
    if (p.latent.enabled())
      readLatentAttention(r, p, lp, pre, w);
    else
      r.fused(w.qkv, qkvParts(p, lp, pre), H, lp.qkvBias, qkvRowOf(p, lp), isGpt2(p));
    r.linear(w.o, pre + outProjection(p), H, lp.heads * lp.headDimV, lp.oBias, isGpt2(p));
    if (lp.affine)
      r.linear(w.alphaProj, pre + "self_attn.alpha_proj", lp.heads, H, false);

    const int64_t E = lp.denseMlp ? 0 : p.mlp.experts, I = lp.denseMlp ? p.mlp.denseIntermediate : p.mlp.intermediate;
    if (E > 0 && p.mlp.selectionBias) {
      const auto [name, shape] = selectionBiasTensor(p, pre);
      w.selectionBias = r.read(name, shape);
    }
    if (E == 0 && !p.mlp.gated) {
      // An MLP without a gate: gateUp holds the up projection alone.
      const DenseMlpNames names = denseMlpNames(p);
      r.linear(w.gateUp, pre + names.up, I, H, p.mlp.bias, isGpt2(p));
      r.linear(w.down, pre + names.down, H, I, p.mlp.bias, isGpt2(p));
    } else if (E == 0) {
      if (fusedGateUp(p))
        r.linear(w.gateUp, pre + "mlp.gate_up_proj", 2 * I, H, p.mlp.bias);
      else
        r.fused(w.gateUp, {{pre + "mlp.gate_proj", I}, {pre + "mlp.up_proj", I}}, H, p.mlp.bias);
      r.linear(w.down, pre + "mlp.down_proj", H, I, p.mlp.bias);
    } else if (graniteMoe) {
      // Granite MoE: each expert's [gate; up] in input_linear [E, 2I, H] and down in output_linear [E, H, I],
      // nn.Linear's [out, in] per expert.
      r.linear(w.router, pre + "block_sparse_moe.router.layer", E, H, false);
      const std::string in = pre + "block_sparse_moe.input_linear.weight",
                        out = pre + "block_sparse_moe.output_linear.weight";
      float *gateUp = r.staging(E * 2 * I * H);
      r.readInto(in, {E, 2 * I, H}, gateUp);
      const Storage inStorage = r.storageFor({in});
      for (int64_t e = 0; e < E; ++e)
        w.expertGateUp.emplace_back().assign(gateUp + e * 2 * I * H, 2 * I, H, /*transposed=*/false, nullptr,
                                             inStorage);
      float *down = r.staging(E * H * I);
      r.readInto(out, {E, H, I}, down);
      const Storage outStorage = r.storageFor({out});
      for (int64_t e = 0; e < E; ++e)
        w.expertDown.emplace_back().assign(down + e * H * I, H, I, /*transposed=*/false, nullptr, outStorage);
    } else if (perExpert) {
      r.linear(w.router, pre + names.router, E, H, false);
      for (int64_t e = 0; e < E; ++e) {
        std::string ex = pre + names.expert(e);
        r.fused(w.expertGateUp.emplace_back(), {{ex + names.gate, I}, {ex + names.up, I}}, H, false);
        r.linear(w.expertDown.emplace_back(), ex + names.down, H, I, false);
      }
      if (const int64_t Is = p.mlp.sharedIntermediate) {
        const std::string shared = pre + names.shared;
        r.fused(w.sharedGateUp, {{shared + ".gate_proj", Is}, {shared + ".up_proj", Is}}, H, false);
        r.linear(w.sharedDown, shared + ".down_proj", H, Is, false);
        if (p.mlp.sharedGate)
          r.linear(w.sharedGate, pre + "mlp.shared_expert_gate", 1, H, false);
      }
    } else {
      r.linear(w.router, pre + "mlp.router", E, H, true);
      std::vector<float> gub = r.read(pre + "mlp.experts.gate_up_proj_bias", {E, 2 * I});
      std::vector<float> dnb = r.read(pre + "mlp.experts.down_proj_bias", {E, H});
      // Experts published in MXFP4 stay packed under "auto" (under a third of bf16's bytes; the decode GEMV
      // reads the codes), and are dequantized straight into their panels under another weight type.
      auto take = [&](std::vector<Linear> &experts, const std::vector<float> &biases, int64_t out, int64_t in,
                      Storage storage) {
        return [&, out, in, storage](int64_t e, const uint8_t *blocks, const uint8_t *scales) {
          if (storage == Storage::MXFP4)
            experts.emplace_back().assignMxfp4(blocks, scales, out, in, biases.data() + e * out);
          else
            experts.emplace_back().assignMxfp4Values(blocks, scales, out, in, biases.data() + e * out, storage);
        };
      };
      const Storage expertStorage = r.policy ? *r.policy : Storage::MXFP4;
      if (r.mxfp4Experts(pre + "mlp.experts.gate_up_proj", {E, H, 2 * I},
                         take(w.expertGateUp, gub, 2 * I, H, expertStorage))) {
        if (!r.mxfp4Experts(pre + "mlp.experts.down_proj", {E, I, H}, take(w.expertDown, dnb, H, I, expertStorage)))
          fail("'" + pre + "mlp.experts.gate_up_proj' is MXFP4 but '" + pre +
               "mlp.experts.down_proj' is not: expected both packed or neither");
        continue;
      }
      // Each stacked tensor through the staging buffer in turn (it holds every expert of one projection).
      float *gu = r.staging(E * H * 2 * I);
      r.readExpertsInto(pre + "mlp.experts.gate_up_proj", {E, H, 2 * I}, gu);
      Storage guStorage = r.storageFor({pre + "mlp.experts.gate_up_proj"});
      for (int64_t e = 0; e < E; ++e)
        w.expertGateUp.emplace_back().assign(gu + e * H * 2 * I, 2 * I, H, /*transposed=*/true,
                                             gub.data() + e * 2 * I, guStorage);
      float *dn = r.staging(E * I * H);
      r.readExpertsInto(pre + "mlp.experts.down_proj", {E, I, H}, dn);
      Storage dnStorage = r.storageFor({pre + "mlp.experts.down_proj"});
      for (int64_t e = 0; e < E; ++e)
        w.expertDown.emplace_back().assign(dn + e * I * H, H, I, /*transposed=*/true, dnb.data() + e * H,
                                           dnStorage);
    }
  }
  r.skipMtpLayers(p);
  r.finish(p.name);
}

/// The GPU model runtime runs every model layout the CPU one does (weight types: f32 and bf16); it needs the
/// dense kernels it calls in the artifact (one from an older xfc may lack some), checked when the model
/// loads, by name.
void checkGpuSupport(const xfrt_model &m) {
  if (m.plan.latent.enabled() && findKernelIndex(*m.module, "xf_dense_latent_qkv") < 0)
    fail("'" + m.module->path + "' lacks the dense kernel 'xf_dense_latent_qkv' (compile the model with xfc)");
  // relu and relu2 came after the other activations: an older artifact may lack their kernels.
  const std::string reluKernel =
      "xf_dense_" + m.plan.mlp.activation + (m.plan.mlp.gated ? "_gate_stacked" : "");
  if (llvm::StringRef(m.plan.mlp.activation).starts_with("relu") && findKernelIndex(*m.module, reluKernel.c_str()) < 0)
    fail("'" + m.module->path + "' lacks the dense kernel '" + reluKernel + "' (compile the model with xfc)");
  for (const char *kernel : {"xf_dense_matmul", "xf_dense_rms_norm", "xf_dense_silu_gate_stacked",
                             "xf_dense_gelu_tanh_gate_stacked", "xf_dense_clamped_swiglu_stacked", "xf_dense_add",
                             "xf_dense_bias_add", "xf_dense_scale", "xf_dense_embed", "xf_dense_slice_cols",
                             "xf_dense_transpose01", "xf_dense_qkv_query", "xf_dense_qkv_query_norm",
                             "xf_dense_qkv_key", "xf_dense_qkv_key_bf16", "xf_dense_qkv_key_f16",
                             "xf_dense_qkv_key_norm", "xf_dense_qkv_key_norm_bf16", "xf_dense_qkv_key_norm_f16",
                             "xf_dense_qkv_value", "xf_dense_qkv_value_bf16", "xf_dense_qkv_value_f16",
                             "xf_dense_topk_softmax", "xf_dense_topk_scored", "xf_dense_topk_sparsemixer",
                             "xf_dense_matmul_routed", "xf_dense_matmul_routed_bf16", "xf_dense_bias_add_routed",
                             "xf_dense_moe_combine", "xf_dense_moe_combine_acc",
                             "xf_dense_matmul_tiled", "xf_dense_matmul_tiled_bf16", "xf_dense_matmul_acc",
                             "xf_dense_matmul_bf16_acc", "xf_dense_matmul_tiled_acc", "xf_dense_matmul_norm",
                             "xf_dense_matmul_bf16_norm",
                             "xf_dense_matmul_tiled_bf16_acc", "xf_dense_route_groups",
                             "xf_dense_matmul_grouped", "xf_dense_matmul_grouped_bf16", "xf_dense_rms_norm_cols",
                             "xf_dense_gated_rows_acc", "xf_dense_rows_acc", "xf_dense_layer_norm", "xf_dense_silu",
                             "xf_dense_gelu_tanh", "xf_dense_gelu", "xf_dense_gelu_gate_stacked"})
    if (findKernelIndex(*m.module, kernel) < 0)
      fail("'" + m.module->path + "' lacks the dense kernel '" + kernel + "' (compile the model with xfc)");
}

void loadGpuWeights(xfrt_model &m, const WeightStore &store, WeightPolicy policy, const LoadProgress &progress) {
  const Plan &p = m.plan;
  WeightReader r(store, Storage::F32, progress);
  const int64_t H = p.hidden;
  auto intermediateOf = [&](const LayerPlan &lp) { return lp.denseMlp ? p.mlp.denseIntermediate : p.mlp.intermediate; };
  // Routers stored in float32 beside 16-bit projections stay float32 (they choose the experts).
  llvm::StringSet<> f32Routers;
  // A projection's weight [out, in]; GPT-2's Conv1D stores it [in, out].
  auto readWeight = [&](const std::string &name, int64_t out, int64_t in) {
    if (!isGpt2(p))
      return r.read(name, {out, in});
    std::vector<float> stored = r.read(name, {in, out}), w(static_cast<size_t>(out * in));
    for (int64_t i = 0; i < in; ++i)
      for (int64_t o = 0; o < out; ++o)
        w[o * in + i] = stored[i * out + o];
    return w;
  };
  m.embedding = r.read("model.embed_tokens.weight", {p.vocab, H});
  m.finalNorm = r.read(finalNormName(p) + ".weight", {H});
  m.finalNormBias = readNormBias(r, p, finalNormName(p), H);
  if (p.learnedPositions)
    m.positionTable = r.read("model.embed_positions.weight", {p.maxPositions, H});
  std::vector<float> lmHead;
  if (p.tieEmbeddings) {
    if (r.has("lm_head.weight"))
      r.ignore("lm_head.weight");
  } else {
    lmHead = r.read("lm_head.weight", {p.vocab, H});
    if (p.lmHeadBias)
      m.gpuLmHeadBias = r.read("lm_head.bias", {p.vocab});
  }
  for (size_t l = 0; l < p.layers.size(); ++l) {
    const LayerPlan &lp = p.layers[l];
    LayerWeights &w = m.layers.emplace_back();
    GpuLayerWeights &g = m.gpuLayers.emplace_back();
    std::string pre = "model.layers." + std::to_string(l) + ".";
    int64_t qRows = lp.heads * lp.headDim, kvRows = lp.kvHeads * lp.headDim;
    readLayerVectors(r, p, lp, pre, w);
    if (p.latent.enabled()) {
      readGpuLatent(r, p, lp, pre, g);
    } else {
      // q, k and v stacked along their outputs: one matmul gives [S, q | k | v].
      std::vector<float> stored, storedBias;
      for (const auto &[name, rows] : qkvParts(p, lp, pre)) {
        std::vector<float> part = readWeight(name + ".weight", rows, H);
        stored.insert(stored.end(), part.begin(), part.end());
        if (lp.qkvBias) {
          std::vector<float> bias = r.read(name + ".bias", {rows});
          storedBias.insert(storedBias.end(), bias.begin(), bias.end());
        }
      }
      if (const auto rowOf = qkvRowOf(p, lp)) {
        const int64_t rows = qRows + 2 * kvRows;
        g.qkv.resize(stored.size());
        g.qkvBias.resize(storedBias.size());
        for (int64_t n = 0; n < rows; ++n) {
          std::copy_n(stored.begin() + rowOf(n) * H, H, g.qkv.begin() + n * H);
          if (!storedBias.empty())
            g.qkvBias[n] = storedBias[rowOf(n)];
        }
      } else {
        g.qkv = std::move(stored);
        g.qkvBias = std::move(storedBias);
      }
    }
    g.o = readWeight(pre + outProjection(p) + ".weight", H, lp.heads * lp.headDimV);
    if (lp.oBias)
      g.oBias = r.read(pre + outProjection(p) + ".bias", {H});
    if (lp.affine)
      g.alphaProj = r.read(pre + "self_attn.alpha_proj.weight", {lp.heads, H});
    const int64_t E = lp.denseMlp ? 0 : p.mlp.experts, I = intermediateOf(lp);
    const ExpertNames names = expertNames(p);
    if (E > 0 && p.mlp.selectionBias) {
      const auto [name, shape] = selectionBiasTensor(p, pre);
      w.selectionBias = r.read(name, shape);
    }
    if (E > 0 && p.architecture == "GraniteMoeForCausalLM") {
      // Granite MoE: [gate; up] per expert in input_linear [E, 2I, H], down in output_linear [E, H, I].
      g.router = r.read(pre + "block_sparse_moe.router.layer.weight", {E, H});
      std::vector<float> in = r.read(pre + "block_sparse_moe.input_linear.weight", {E, 2 * I, H});
      std::vector<float> out = r.read(pre + "block_sparse_moe.output_linear.weight", {E, H, I});
      for (int64_t e = 0; e < E; ++e) {
        g.expertGateUp.emplace_back(in.begin() + e * 2 * I * H, in.begin() + (e + 1) * 2 * I * H);
        g.expertDown.emplace_back(out.begin() + e * H * I, out.begin() + (e + 1) * H * I);
      }
    } else if (E > 0 && !p.mlp.limit) {
      // Per-expert gate, up and down (Mixtral, Qwen2- and Qwen3-MoE, GLM-4.5), already [out, in].
      g.router = r.read(pre + names.router + ".weight", {E, H});
      if (const WeightInfo *info = store.find(pre + names.router + ".weight"); info && info->type == WeightType::F32)
        f32Routers.insert(pre + names.router + ".weight"); // ERNIE 4.5 MoE keeps its routers in float32
      for (int64_t e = 0; e < E; ++e) {
        std::string ex = pre + names.expert(e);
        std::vector<float> &gateUp = g.expertGateUp.emplace_back(r.read(ex + names.gate + ".weight", {I, H}));
        std::vector<float> up = r.read(ex + names.up + ".weight", {I, H});
        gateUp.insert(gateUp.end(), up.begin(), up.end());
        g.expertDown.push_back(r.read(ex + names.down + ".weight", {H, I}));
      }
      if (const int64_t Is = p.mlp.sharedIntermediate) {
        const std::string shared = pre + names.shared;
        g.sharedGateUp = r.read(shared + ".gate_proj.weight", {Is, H});
        std::vector<float> up = r.read(shared + ".up_proj.weight", {Is, H});
        g.sharedGateUp.insert(g.sharedGateUp.end(), up.begin(), up.end());
        g.sharedDown = r.read(shared + ".down_proj.weight", {H, Is});
        if (p.mlp.sharedGate)
          g.sharedGate = r.read(pre + "mlp.shared_expert_gate.weight", {1, H});
      }
    } else if (E > 0) {
      // gpt-oss: gate_up_proj [E, H, 2I] with gate and up interleaved along 2I, down_proj [E, I, H]; both
      // transposed to [out, in] and de-interleaved here.
      g.router = r.read(pre + "mlp.router.weight", {E, H});
      g.routerBias = r.read(pre + "mlp.router.bias", {E});
      std::vector<float> gu = r.readExperts(pre + "mlp.experts.gate_up_proj", {E, H, 2 * I});
      std::vector<float> gub = r.read(pre + "mlp.experts.gate_up_proj_bias", {E, 2 * I});
      std::vector<float> dn = r.readExperts(pre + "mlp.experts.down_proj", {E, I, H});
      std::vector<float> dnb = r.read(pre + "mlp.experts.down_proj_bias", {E, H});
      for (int64_t e = 0; e < E; ++e) {
        // Rows [0, I) the gate's, [I, 2I) up's.
        std::vector<float> gateUp(2 * I * H), down(H * I), gateUpBias(2 * I);
        for (int64_t i = 0; i < I; ++i) {
          for (int64_t c = 0; c < H; ++c) {
            gateUp[i * H + c] = gu[(e * H + c) * 2 * I + 2 * i];
            gateUp[(I + i) * H + c] = gu[(e * H + c) * 2 * I + 2 * i + 1];
          }
          gateUpBias[i] = gub[e * 2 * I + 2 * i];
          gateUpBias[I + i] = gub[e * 2 * I + 2 * i + 1];
        }
        for (int64_t c = 0; c < H; ++c)
          for (int64_t i = 0; i < I; ++i)
            down[c * I + i] = dn[(e * I + i) * H + c];
        g.expertGateUp.push_back(std::move(gateUp));
        g.expertDown.push_back(std::move(down));
        g.expertGateUpBias.push_back(std::move(gateUpBias));
        g.expertDownBias.emplace_back(dnb.begin() + e * H, dnb.begin() + (e + 1) * H);
      }
    } else if (!p.mlp.gated) {
      const DenseMlpNames dense = denseMlpNames(p);
      g.gateUp = readWeight(pre + dense.up + ".weight", I, H);
      g.down = readWeight(pre + dense.down + ".weight", H, I);
      if (p.mlp.bias) {
        g.gateUpBias = r.read(pre + dense.up + ".bias", {I});
        g.downBias = r.read(pre + dense.down + ".bias", {H});
      }
    } else if (fusedGateUp(p)) {
      // gate_up_proj [2I, H]: the gate's rows, then the up projection's, as kept.
      g.gateUp = r.read(pre + "mlp.gate_up_proj.weight", {2 * I, H});
      g.down = r.read(pre + "mlp.down_proj.weight", {H, I});
    } else {
      g.gateUp = r.read(pre + "mlp.gate_proj.weight", {I, H});
      std::vector<float> up = r.read(pre + "mlp.up_proj.weight", {I, H});
      g.gateUp.insert(g.gateUp.end(), up.begin(), up.end());
      g.down = r.read(pre + "mlp.down_proj.weight", {H, I});
    }
    if (p.mlp.bias && E == 0 && p.mlp.gated) {
      g.gateUpBias = r.read(pre + "mlp.gate_proj.bias", {I});
      std::vector<float> upBias = r.read(pre + "mlp.up_proj.bias", {I});
      g.gateUpBias.insert(g.gateUpBias.end(), upBias.begin(), upBias.end());
      g.downBias = r.read(pre + "mlp.down_proj.bias", {H});
    }
  }
  r.skipMtpLayers(p);
  m.gpuLmHead = p.tieEmbeddings ? m.embedding : std::move(lmHead);
  // The product kernels read projections as [out, in], nn.Linear's layout, f32 or, where the whole
  // checkpoint is bf16 (exact) or bf16 is asked for (rounded), bf16 pairs of consecutive inputs per word.
  bool bf16 = policy == Storage::BF16;
  if (!policy) {
    bf16 = !r.used.empty();
    for (const auto &name : r.used)
      // MXFP4 experts (U8 blocks and scales) are exact in bf16 too; a selection bias (float32 in GLM-4.5's
      // bf16 checkpoints) is no projection, and float32 routers stay so.
      if (const WeightInfo *info = store.find(name.getKey());
          info && info->type != WeightType::BF16 && info->type != WeightType::U8 &&
          !name.getKey().ends_with(".e_score_correction_bias") && !f32Routers.contains(name.getKey()))
        bf16 = false;
  }
  auto layout = [&](std::vector<float> &w, int64_t in) {
    if (w.empty() || !bf16)
      return;
    const int64_t out = static_cast<int64_t>(w.size()) / in, words = (in + 1) / 2;
    std::vector<float> packed(static_cast<size_t>(words * out));
    for (int64_t o = 0; o < out; ++o)
      for (int64_t p = 0; p < words; ++p) {
        uint32_t lo = dense::toStorage16(w[o * in + 2 * p], Storage::BF16);
        uint32_t hi = 2 * p + 1 < in ? dense::toStorage16(w[o * in + 2 * p + 1], Storage::BF16) : 0;
        uint32_t word = lo | hi << 16;
        std::memcpy(&packed[o * words + p], &word, sizeof(word));
      }
    w = std::move(packed);
    m.gpuBf16.insert(w.data());
  };
  for (size_t l = 0; l < p.layers.size(); ++l) {
    GpuLayerWeights &g = m.gpuLayers[l];
    const LayerPlan &lp = p.layers[l];
    const int64_t I = intermediateOf(lp);
    layout(g.qkv, H);
    layout(g.o, lp.heads * lp.headDimV);
    layout(g.qA, H);
    layout(g.qB, p.latent.qRank);
    layout(g.kvA, H);
    layout(g.kvB, p.latent.kvRank);
    layout(g.gateUp, H);
    layout(g.down, I);
    if (f32Routers.empty() || policy == Storage::BF16)
      layout(g.router, H);
    layout(g.sharedGateUp, H);
    layout(g.sharedDown, p.mlp.sharedIntermediate);
    layout(g.sharedGate, H);
    for (auto &w : g.expertGateUp)
      layout(w, H);
    for (auto &w : g.expertDown)
      layout(w, I);
    // One array per projection over the experts (bf16 pairs stay pairs), the per-expert copies freed.
    auto stack = [&](std::vector<std::vector<float>> &parts, std::vector<float> &all) {
      bool bf16 = !parts.empty() && m.gpuBf16.contains(parts.front().data());
      size_t total = 0;
      for (const std::vector<float> &part : parts)
        total += part.size();
      all.reserve(total);
      for (std::vector<float> &part : parts) {
        m.gpuBf16.erase(part.data());
        all.insert(all.end(), part.begin(), part.end());
      }
      std::vector<std::vector<float>>().swap(parts);
      if (bf16)
        m.gpuBf16.insert(all.data());
    };
    stack(g.expertGateUp, g.gateUpStack);
    stack(g.expertDown, g.downStack);
    stack(g.expertGateUpBias, g.gateUpBiasStack);
    stack(g.expertDownBias, g.downBiasStack);
  }
  layout(m.gpuLmHead, H);
  r.finish(p.name);
}

//===----------------------------------------------------------------------===//
// KV cache
//===----------------------------------------------------------------------===//

/// One layer's keys and values, [kvHeads, capacity, headDim] and [kvHeads, capacity, headDimV] (narrower
/// value heads in latent attention), rows in position order, of the element type the layer's attention
/// kernel reads (float32, or bf16 / f16 words rounded as they are stored). A windowed layer keeps the
/// `sinkTokens` first rows plus the newest ones its window can still see: before new rows would overflow,
/// older rows are dropped by moving the kept ones down (amortized O(1) per token).
struct LayerCache {
  int64_t kvHeads = 0, headDim = 0, headDimV = 0, capacity = 0, count = 0; // headDimV: the value rows
  int64_t window = 0, sinkTokens = 0;
  xfrt_dtype dtype = XFRT_F32;
  std::vector<uint8_t> k, v;
  /// On a GPU: the arrays pinned on the device (k and v as they were then), and the rows [0, synced) of
  /// every head, which host and device hold alike (see sendCache and cacheRowsToFetch for the others).
  std::vector<uint8_t>::const_pointer deviceK = nullptr, deviceV = nullptr;
  int64_t synced = 0;

  size_t elementBytes() const { return xfrt_dtype_size(dtype); }
  /// The dims of a row of `t`: k's or v's.
  int64_t dimsOf(const std::vector<uint8_t> &t) const { return &t == &v ? headDimV : headDim; }
  uint8_t *row(std::vector<uint8_t> &t, int64_t head, int64_t slot) {
    return t.data() + static_cast<size_t>((head * capacity + slot) * dimsOf(t)) * elementBytes();
  }
  /// Writes a row of floats at (head, slot), rounded to the cache's element type.
  void store(std::vector<uint8_t> &t, int64_t head, int64_t slot, const float *values) {
    uint8_t *to = row(t, head, slot);
    const int64_t dims = dimsOf(t);
    if (dtype == XFRT_F32) {
      std::memcpy(to, values, sizeof(float) * dims);
      return;
    }
    auto *words = reinterpret_cast<uint16_t *>(to);
    for (int64_t d = 0; d < dims; ++d)
      words[d] = xfrt::toHalf(values[d], dtype);
  }

  void reserveFor(int64_t incoming) {
    if (window > 0 && count + incoming > capacity) {
      // Queries of the next call see at most window - 1 older rows.
      int64_t keepRecent = std::min(count - std::min(count, sinkTokens), window - 1);
      int64_t keepSinks = std::min(count, sinkTokens);
      int64_t drop = count - keepSinks - keepRecent;
      if (drop > 0) {
        for (std::vector<uint8_t> *t : {&k, &v})
          for (int64_t h = 0; h < kvHeads; ++h)
            std::memmove(row(*t, h, keepSinks), row(*t, h, keepSinks + drop), elementBytes() * keepRecent * dimsOf(*t));
        count -= drop;
        synced = std::min(synced, keepSinks);
      }
    }
    if (count + incoming <= capacity)
      return;
    int64_t newCapacity = std::max(count + incoming, capacity * 2);
    for (std::vector<uint8_t> *t : {&k, &v}) {
      const int64_t dims = dimsOf(*t);
      std::vector<uint8_t> grown(static_cast<size_t>(kvHeads * newCapacity * dims) * elementBytes());
      for (int64_t h = 0; h < kvHeads && count > 0; ++h) // an empty cache has no rows (nor storage) to copy
        std::memcpy(grown.data() + static_cast<size_t>(h * newCapacity * dims) * elementBytes(), row(*t, h, 0),
                    elementBytes() * count * dims);
      t->swap(grown);
    }
    capacity = newCapacity;
  }
};

/// forward()'s activations, kept across calls: a decode step would otherwise allocate and zero a dozen
/// vectors per layer. Each buffer grows to the largest call so far and is never shrunk; contents are stale
/// between calls (every row a call reads, it has written first, except GEMM padding rows, whose outputs
/// are never read).
struct Scratch {
  std::vector<float> x, h, o, qkv, q, keys, attn, merged, gateUp, act, cosT, sinT, normed, logits;
  std::vector<float> mlpNormed; // the MLP's own norm of x, side by side with attention (GPT-NeoX)
  std::vector<float> routerLogits, expertIn, expertGateUp, expertAct, expertOut, sharedGate; // MoE
  std::vector<float> gates, alphaRows, alpha; // mixture-of-head and affine-scaled attention's per-token operands
  std::vector<float> queryLatent, queryNormed, queries, keyLatent, keyNormed, keysValues; // latent attention
  std::vector<MemRefDescriptor> operands;

  static float *sized(std::vector<float> &v, int64_t rows, int64_t cols) {
    size_t n = static_cast<size_t>(rows * cols);
    if (v.size() < n)
      v.resize(n);
    return v.data();
  }
};

/// forwardGpu's activations, kept on the device for the session: resident pins, whose device copies are
/// their truth (the host vectors only name them and size them, and hold what is read back). Each grows to
/// the largest call so far, pinned anew when it does.
struct GpuActivations {
  std::vector<float> x, sum, h, o, qkv, queries, attn, merged, gateUp, act,
      routerLogits, routes, groups, expertOut, last, normed, logits, sharedGateUp, sharedAct, sharedOut, sharedGate;
  std::vector<float> gates, alphaRows, alpha; // mixture-of-head and affine-scaled attention's per-token operands
  std::vector<float> latentQuery, latentQueryNormed, latentQueries, latentKeys, latentKeysOnly, latentKeysNormed,
      keysValues; // latent attention
  std::vector<float> mlpNormed; // the MLP's own norm of x, side by side with attention (GPT-NeoX)
  std::vector<float> positionIds; // a forward's positions, rows of the learned position table (GPT-2)
  /// A product's input rounded to bf16 pairs (the CUDA bf16 dot).
  std::vector<float> pairs;
  /// A forward's inputs from the host (token ids, RoPE tables, each layer's KV cache append position), sent
  /// once per forward.
  std::vector<float> ids, cosT, sinT, cosSliding, sinSliding, cosNone, sinNone;
  std::vector<std::vector<float>> appendAt;
  /// Small operands that never change (norm parameters, slice offsets), pinned once: a kernel whose
  /// operands are all on the device needs no copy, so on CUDA its launch does not wait (CudaDevice::launch).
  std::set<std::vector<float>> constants;

  const std::vector<float> &constant(xfrt_context &context, std::vector<float> values) {
    auto [at, added] = constants.insert(std::move(values));
    if (added)
      if (llvm::Error err = context.pin(at->data(), at->size() * sizeof(float))) {
        constants.erase(at);
        throw std::runtime_error("keeping constants on " + context.device + ": " + llvm::toString(std::move(err)));
      }
    return *at;
  }

  void reserve(xfrt_context &context, std::vector<float> &array, int64_t n) {
    if (static_cast<int64_t>(array.size()) >= n)
      return;
    if (!array.empty())
      context.unpin(array.data());
    std::vector<float>(static_cast<size_t>(n)).swap(array);
    if (llvm::Error err = context.pin(array.data(), array.size() * sizeof(float), /*resident=*/true)) {
      std::vector<float>().swap(array);
      throw std::runtime_error("keeping activations on " + context.device + ": " + llvm::toString(std::move(err)));
    }
  }

  void release(xfrt_context &context) {
    for (std::vector<float> *array : {&x, &sum, &h, &o, &qkv, &queries, &attn,
                                      &merged, &gateUp, &act, &routerLogits, &routes, &groups, &expertOut,
                                      &last, &normed, &logits, &pairs, &ids, &cosT, &sinT, &cosSliding, &sinSliding,
                                      &cosNone, &sinNone, &sharedGateUp, &sharedAct, &sharedOut, &sharedGate,
                                      &mlpNormed, &positionIds})
      if (!array->empty())
        context.unpin(array->data());
    for (std::vector<float> &array : appendAt)
      if (!array.empty())
        context.unpin(array.data());
    for (const std::vector<float> &values : constants)
      context.unpin(values.data());
  }
};

} // namespace

/// The activations of a forward grow with its token count (an 8B model's MLP takes 117 MB per 1024 tokens),
/// the KV cache does not: long prompts run in chunks of this many tokens.
constexpr int64_t kDefaultPrefillChunk = 1024;

struct xfrt_session_s {
  xfrt_model *model = nullptr;
  xfrt_context *context = nullptr;
  int64_t maxTokens = 0, position = 0;
  /// Longer runs go through the model in forwards of this many tokens (0: one forward).
  int64_t prefillChunk = kDefaultPrefillChunk;
  std::vector<LayerCache> caches;
  Scratch scratch;
  GpuActivations gpu;
  /// Weights kept on the context's GPU for the session's lifetime.
  std::vector<const void *> pinned;

  xfrt_session_s() = default;
  xfrt_session_s(const xfrt_session_s &) = delete;
  xfrt_session_s &operator=(const xfrt_session_s &) = delete;
  ~xfrt_session_s() {
    for (const void *data : pinned)
      context->unpin(data);
    for (LayerCache &c : caches)
      for (const void *data : {c.deviceK, c.deviceV})
        if (data)
          context->unpin(data);
    gpu.release(*context);
  }
};

namespace {

/// The inverse frequencies for a sequence of `length` tokens: dynamic NTK and longrope change with it.
std::vector<double> ropeFrequencies(const RopePlan &r, int64_t length) {
  if (r.scaling == "longrope" && r.originalMax > 0 && length > r.originalMax && !r.longInvFreq.empty())
    return r.longInvFreq;
  if (r.scaling == "dynamic" && r.originalMax > 0 && length > r.originalMax) {
    double d = static_cast<double>(r.rotaryDim);
    double base = r.base * std::pow(r.factor * length / r.originalMax - (r.factor - 1.0), d / (d - 2.0));
    std::vector<double> f(r.invFreq.size());
    for (size_t k = 0; k < f.size(); ++k)
      f[k] = 1.0 / std::pow(base, 2.0 * k / d);
    return f;
  }
  return r.invFreq;
}

/// The rotation tables of positions pos0 .. pos0 + S - 1, [S, rotaryDim / 2] each, in double and then
/// rounded, the attention factor folded in.
void ropeTables(const RopePlan &r, int64_t pos0, int64_t S, float *cosT, float *sinT) {
  const int64_t half = r.rotaryDim / 2;
  std::vector<double> invFreq = ropeFrequencies(r, pos0 + S);
  for (int64_t t = 0; t < S; ++t)
    for (int64_t k = 0; k < half; ++k) {
      double angle = static_cast<double>(pos0 + t) * invFreq[k];
      cosT[t * half + k] = static_cast<float>(std::cos(angle) * r.attentionFactor);
      sinT[t * half + k] = static_cast<float>(std::sin(angle) * r.attentionFactor);
    }
}

/// y = (x - mean) / sqrt(var + eps) * (offset + w) (+ bias, if any) row by row, var the mean squared deviation
/// (nn.LayerNorm; offset 1: Nemotron's LayerNorm1P). y may be x.
void layerNormRows(const float *x, int64_t ldx, int64_t rows, int64_t cols, const float *w, const float *bias,
                   float eps, float offset, float *y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *in = x + r * ldx;
    double sum = 0, squares = 0;
    for (int64_t c = 0; c < cols; ++c)
      sum += in[c];
    const double mean = sum / cols;
    for (int64_t c = 0; c < cols; ++c)
      squares += (in[c] - mean) * (in[c] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(squares / cols + eps)), m = static_cast<float>(mean);
    float *out = y + r * ldy;
    for (int64_t c = 0; c < cols; ++c)
      out[c] = (in[c] - m) * inv * (w[c] + offset) + (bias ? bias[c] : 0.0f);
  }
}

/// y = norm(x) row by row: RMSNorm (times offset + w) without `bias`; with it LayerNorm: (x - mean) /
/// sqrt(var + eps) * (offset + w) + bias, var the mean squared deviation (nn.LayerNorm). y may be x.
void normRows(const float *x, int64_t ldx, int64_t rows, int64_t cols, const float *w, const float *bias, float eps,
              float offset, float *y, int64_t ldy) {
  if (!bias)
    return dense::rmsNorm(x, ldx, rows, cols, w, eps, offset, y, ldy);
  layerNormRows(x, ldx, rows, cols, w, bias, eps, offset, y, ldy);
}

/// The q or k norms in place in S rows of x (pitch ldx) of `heads` heads of D: the model's norm (LayerNorm
/// or RMSNorm) without a bias, with `gains` [D] shared by every head or [heads, D] each head's own.
void normHeads(const Plan &p, float *x, int64_t ldx, int64_t S, int64_t heads, int64_t D,
               const std::vector<float> &gains, float eps, float offset) {
  const bool shared = static_cast<int64_t>(gains.size()) == D;
  if (shared && !p.layerNorm) {
    if (heads == 1)
      return dense::rmsNorm(x, ldx, S, D, gains.data(), eps, offset, x, ldx);
    for (int64_t t = 0; t < S; ++t) // one call per token: its heads are contiguous rows of D
      dense::rmsNorm(x + t * ldx, D, heads, D, gains.data(), eps, offset, x + t * ldx, D);
    return;
  }
  for (int64_t h = 0; h < heads; ++h) {
    const float *g = gains.data() + (shared ? 0 : h * D);
    if (p.layerNorm)
      layerNormRows(x + h * D, ldx, S, D, g, nullptr, eps, offset, x + h * D, ldx);
    else
      dense::rmsNorm(x + h * D, ldx, S, D, g, eps, offset, x + h * D, ldx);
  }
}

/// y = act(x) row by row, for MLPs without a gate (as torch computes silu, gelu_pytorch_tanh, gelu, relu and
/// relu2, relu(x)^2), the activation chosen once per call.
void activateRows(const std::string &activation, const float *x, int64_t ldx, int64_t rows, int64_t cols, float *y,
                  int64_t ldy) {
  auto map = [&](auto act) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        y[r * ldy + c] = act(x[r * ldx + c]);
  };
  if (activation == "silu")
    map([](float v) { return v / (1.0f + std::exp(-v)); });
  else if (activation == "gelu_tanh")
    map([](float v) { return 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v))); });
  else if (activation == "relu")
    map([](float v) { return std::max(v, 0.0f); });
  else if (activation == "relu2")
    map([](float v) { return v > 0.0f ? v * v : 0.0f; });
  else
    map([](float v) { return 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f)); });
}

/// The bias of a LayerNorm model's norm, null for RMSNorm.
const float *normBias(const std::vector<float> &bias) { return bias.empty() ? nullptr : bias.data(); }

/// Latent attention's q | k | v rows ([S, ldq]: q [heads * D], k [heads * D], v [heads * Dv]) from the
/// normalized input `in`, in the layout the other attentions' fused projection gives: q from q_a_proj,
/// its norm and q_b_proj (or q_proj); each head's k as the shared rotated dims then its own unrotated
/// dims from kv_b_proj, v from kv_b_proj, both of the normalized latent (rows kept as latentRows says;
/// xf_dense_latent_qkv is the same on GPUs).
void latentQkv(const Plan &p, const LayerPlan &lp, const LayerWeights &w, Scratch &sc, const float *in, int64_t S,
               int64_t rows, float eps, float offset, float *qkv, int64_t ldq) {
  const Plan::LatentPlan &lat = p.latent;
  const int64_t H = p.hidden, Hq = lp.heads, D = lp.headDim, Dv = lp.headDimV, R = lat.ropeDim, nope = D - R;
  const float *q = nullptr;
  int64_t ldQ = 0;
  float *a = Scratch::sized(sc.queryLatent, rows, w.qA.outPadded);
  dense::linear(w.qA, in, H, rows, a, w.qA.outPadded);
  if (lat.qRank > 0) {
    float *normed = Scratch::sized(sc.queryNormed, rows, lat.qRank);
    dense::rmsNorm(a, w.qA.outPadded, S, lat.qRank, w.qANorm.data(), eps, offset, normed, lat.qRank);
    float *full = Scratch::sized(sc.queries, rows, w.qB.outPadded);
    dense::linear(w.qB, normed, lat.qRank, rows, full, w.qB.outPadded);
    q = full;
    ldQ = w.qB.outPadded;
  } else {
    q = a;
    ldQ = w.qA.outPadded;
  }
  float *c = Scratch::sized(sc.keyLatent, rows, w.kvA.outPadded);
  dense::linear(w.kvA, in, H, rows, c, w.kvA.outPadded);
  float *latent = Scratch::sized(sc.keyNormed, rows, lat.kvRank);
  dense::rmsNorm(c, w.kvA.outPadded, S, lat.kvRank, w.kvANorm.data(), eps, offset, latent, lat.kvRank);
  float *kv = Scratch::sized(sc.keysValues, rows, w.kvB.outPadded);
  dense::linear(w.kvB, latent, lat.kvRank, rows, kv, w.kvB.outPadded);
  for (int64_t t = 0; t < S; ++t) {
    float *row = qkv + t * ldq, *keys = row + Hq * D, *values = keys + Hq * D;
    const float *expanded = kv + t * w.kvB.outPadded;
    std::memcpy(row, q + t * ldQ, sizeof(float) * Hq * D);
    for (int64_t h = 0; h < Hq; ++h) {
      std::memcpy(keys + h * D, c + t * w.kvA.outPadded + lat.kvRank, sizeof(float) * R);
      std::memcpy(keys + h * D + R, expanded + h * nope, sizeof(float) * nope);
    }
    std::memcpy(values, expanded + Hq * nope, sizeof(float) * Hq * Dv);
  }
}

void forward(xfrt_session &s, const int32_t *tokens, int64_t S, float *logits) {
  xfrt_model &m = *s.model;
  const Plan &p = m.plan;
  const int64_t H = p.hidden, pos0 = s.position, T = pos0 + S;
  const int64_t rows = S == 1 ? 1 : dense::paddedRows(S);
  const float offset = p.unitOffset ? 1.0f : 0.0f, eps = static_cast<float>(p.normEps),
              residualScale = static_cast<float>(p.residualScale);
  // Every gated MLP's activation: the dense one's, each routed expert's and the shared expert's.
  const dense::GateKind gateKind = p.mlp.activation == "silu"        ? dense::GateKind::SiLU
                                   : p.mlp.activation == "gelu_tanh" ? dense::GateKind::GELUTanh
                                   : p.mlp.activation == "relu"      ? dense::GateKind::ReLU
                                   : p.mlp.activation == "relu2"     ? dense::GateKind::ReLU2
                                                                     : dense::GateKind::GELU;
  dense::ScopedPool pool(s.context->threadPool);

  Scratch &sc = s.scratch;
  const int64_t Hp = dense::paddedCols(H);
  float *x = Scratch::sized(sc.x, rows, H), *h = Scratch::sized(sc.h, rows, H), *o = Scratch::sized(sc.o, rows, Hp);
  if (m.embeddingStorage == Storage::F32)
    dense::embed(tokens, S, m.embedding.data(), p.vocab, H, static_cast<float>(p.embedScale), x);
  else
    dense::embed(tokens, S, m.embedding16.data(), m.embeddingStorage, p.vocab, H, static_cast<float>(p.embedScale), x);
  if (p.learnedPositions) // GPT-2: the learned rows of positions pos0 .. T-1
    dense::addScaled(x, H, m.positionTable.data() + pos0 * H, H, 1.0f, S, H, x, H);

  // Rotation tables for positions pos0 .. T-1, the attention factor folded in: the model's, the sliding
  // layers' own where they differ, and the identity (cos 1, sin 0) for NoPE layers.
  const int64_t half = p.rope.rotaryDim / 2;
  float *cosAll = Scratch::sized(sc.cosT, 3 * S, std::max<int64_t>(half, 1));
  float *sinAll = Scratch::sized(sc.sinT, 3 * S, std::max<int64_t>(half, 1));
  ropeTables(p.rope, pos0, S, cosAll, sinAll);
  if (p.slidingRope)
    ropeTables(*p.slidingRope, pos0, S, cosAll + S * half, sinAll + S * half);
  if (p.anyNoRope) {
    std::fill(cosAll + 2 * S * half, cosAll + 3 * S * half, 1.0f);
    std::fill(sinAll + 2 * S * half, sinAll + 3 * S * half, 0.0f);
  }

  for (size_t l = 0; l < p.layers.size(); ++l) {
    const LayerPlan &lp = p.layers[l];
    LayerWeights &w = m.layers[l];
    LayerCache &cache = s.caches[l];
    const int64_t D = lp.headDim, Dv = lp.headDimV, Hq = lp.heads, Hkv = lp.kvHeads;
    const int64_t table = lp.noRope ? 2 : lp.slidingRope ? 1 : 0;
    const float *cosT = cosAll + table * S * half, *sinT = sinAll + table * S * half;

    // Post-norm models (OLMo 2) project x itself, the others its norm.
    const float *attnIn = x;
    if (!p.postNorms()) {
      normRows(x, H, S, H, w.inputNorm.data(), normBias(w.inputNormBias), eps, offset, h, H);
      attnIn = h;
    }
    // GPT-NeoX's MLP reads its own norm of the layer's input, before attention joins the residual.
    float *mlpNormed = nullptr;
    if (p.twoNorms()) {
      mlpNormed = Scratch::sized(sc.mlpNormed, rows, H);
      normRows(x, H, S, H, w.postAttnNorm.data(), normBias(w.postAttnNormBias), eps, offset, mlpNormed, H);
    }
    const int64_t ldq = p.latent.enabled() ? Hq * D + Hkv * (D + Dv) : w.qkv.outPadded;
    float *qkv = Scratch::sized(sc.qkv, rows, ldq);
    if (p.latent.enabled())
      latentQkv(p, lp, w, sc, attnIn, S, rows, eps, offset, qkv, ldq);
    else
      dense::linear(w.qkv, attnIn, H, rows, qkv, ldq);
    if (lp.qkNormProjection) {
      // The whole projections as one head each.
      normHeads(p, qkv, ldq, S, 1, Hq * D, w.qNorm, eps, offset);
      normHeads(p, qkv + Hq * D, ldq, S, 1, Hkv * D, w.kNorm, eps, offset);
    } else if (lp.qkNorm) {
      normHeads(p, qkv, ldq, S, Hq, D, w.qNorm, eps, offset);
      normHeads(p, qkv + Hq * D, ldq, S, Hkv, D, w.kNorm, eps, offset);
    }

    cache.reserveFor(S);
    const int64_t C = cache.capacity, base = cache.count;
    float *q = Scratch::sized(sc.q, Hq * S, D), *attn = Scratch::sized(sc.attn, Hq * S, Dv);
    dense::rope(qkv, S, ldq, Hq, D, D, cosT, sinT, half, q, D, S * D);
    if (cache.dtype == XFRT_F32) {
      dense::rope(qkv + Hq * D, S, ldq, Hkv, D, D, cosT, sinT, half,
                  reinterpret_cast<float *>(cache.row(cache.k, 0, base)), D, C * D);
    } else {
      // Rotated keys [Hkv, S, D] in float32 first, then rounded into the cache.
      float *rotated = Scratch::sized(sc.keys, Hkv * S, D);
      dense::rope(qkv + Hq * D, S, ldq, Hkv, D, D, cosT, sinT, half, rotated, D, S * D);
      for (int64_t kh = 0; kh < Hkv; ++kh)
        for (int64_t t = 0; t < S; ++t)
          cache.store(cache.k, kh, base + t, rotated + (kh * S + t) * D);
    }
    for (int64_t t = 0; t < S; ++t)
      for (int64_t kh = 0; kh < Hkv; ++kh)
        cache.store(cache.v, kh, base + t, qkv + t * ldq + (Hq + Hkv) * D + kh * Dv);
    cache.count += S;

    auto run = [&](int64_t kernel, std::vector<MemRefDescriptor> &operands) {
      if (xfrt_status status = runChecked(*s.context, *m.module, kernel, operands)) {
        std::string message = xfrt_status_message(status);
        xfrt_status_free(status);
        fail("layer " + llvm::Twine(l) + ": " + message);
      }
    };
    // Per-token operands of the attention input: head gates [1, Hq, S] from the router kernel, affine
    // attention's alpha [1, Hq, S] (before its activation, which the kernel applies).
    int64_t headRows[3] = {1, Hq, S}, headRowStrides[3] = {Hq * S, S, 1}, headShape[1] = {Hq}, unit[1] = {1};
    float *gates = nullptr, *alpha = nullptr;
    if (lp.routerIndex >= 0) {
      gates = Scratch::sized(sc.gates, Hq, S);
      const int64_t routed = Hq - lp.sharedHeads;
      int64_t inShape[3] = {1, S, H}, inStrides[3] = {S * H, H, 1}, wRouted[2] = {routed, H},
              wShared[2] = {lp.sharedHeads, H}, wHead[2] = {2, H}, wStrides[2] = {H, 1};
      std::vector<MemRefDescriptor> &operands = sc.operands;
      operands.clear();
      operands.emplace_back(const_cast<float *>(attnIn), 3, inShape, inStrides);
      operands.emplace_back(w.mohRouted.data(), 2, wRouted, wStrides);
      operands.emplace_back(w.mohShared.data(), 2, wShared, wStrides);
      operands.emplace_back(w.mohHead.data(), 2, wHead, wStrides);
      operands.emplace_back(gates, 3, headRows, headRowStrides);
      run(lp.routerIndex, operands);
    }
    if (lp.affine) {
      const int64_t ld = w.alphaProj.outPadded;
      float *perToken = Scratch::sized(sc.alphaRows, rows, ld);
      dense::linear(w.alphaProj, attnIn, H, rows, perToken, ld);
      alpha = Scratch::sized(sc.alpha, Hq, S);
      for (int64_t t = 0; t < S; ++t)
        for (int64_t hh = 0; hh < Hq; ++hh)
          alpha[hh * S + t] = perToken[t * ld + hh];
    }

    // The kernel sees the cache rows as key [1, Hkv, count, D] and value [1, Hkv, count, Dv] in place; its
    // operands in its order.
    const int64_t Tk = cache.count;
    int64_t qShape[4] = {1, Hq, S, D}, qStrides[4] = {Hq * S * D, S * D, D, 1};
    int64_t kvShape[4] = {1, Hkv, Tk, D}, kvStrides[4] = {Hkv * C * D, C * D, D, 1};
    int64_t vShape[4] = {1, Hkv, Tk, Dv}, vStrides[4] = {Hkv * C * Dv, C * Dv, Dv, 1};
    int64_t outShape[4] = {1, Hq, S, Dv}, outStrides[4] = {Hq * S * Dv, S * Dv, Dv, 1};
    std::vector<MemRefDescriptor> &operands = sc.operands;
    operands.clear();
    for (const OperandInfo &operand : m.module->info.kernels[lp.kernelIndex].operands) {
      const std::string &name = operand.name;
      if (name == "query")
        operands.emplace_back(q, 4, qShape, qStrides);
      else if (name == "key")
        operands.emplace_back(cache.k.data(), 4, kvShape, kvStrides);
      else if (name == "value")
        operands.emplace_back(cache.v.data(), 4, vShape, vStrides);
      else if (name == "sinks")
        operands.emplace_back(w.sinks.data(), 1, headShape, unit);
      else if (name == "gates")
        operands.emplace_back(gates, 3, headRows, headRowStrides);
      else if (name == "alpha")
        operands.emplace_back(alpha, 3, headRows, headRowStrides);
      else if (name == "alpha_ma")
        operands.emplace_back(w.alphaMa.data(), 1, headShape, unit);
      else
        operands.emplace_back(attn, 4, outShape, outStrides); // the output: the plan admits no other operand
    }
    run(lp.kernelIndex, operands);

    // [Hq, S, Dv] -> [S, Hq * Dv] for the output projection (at S = 1 the two are the same).
    float *merged = attn;
    if (S > 1) {
      merged = Scratch::sized(sc.merged, rows, Hq * Dv);
      for (int64_t hh = 0; hh < Hq; ++hh)
        for (int64_t t = 0; t < S; ++t)
          std::memcpy(merged + t * Hq * Dv + hh * Dv, attn + (hh * S + t) * Dv, sizeof(float) * Dv);
    }
    dense::linear(w.o, merged, Hq * Dv, rows, o, Hp);
    if (p.sandwich() || p.postNorms())
      normRows(o, Hp, S, H, w.postAttnNorm.data(), normBias(w.postAttnNormBias), eps, offset, o, Hp);
    dense::addScaled(x, H, o, Hp, residualScale, S, H, x, H);

    // MLP: with parallel residuals it reads the attention's normed input, h (Phi), or its own (GPT-NeoX).
    const float *mlpIn = p.twoNorms() ? mlpNormed : p.parallel() ? h : x;
    if (!p.postNorms() && !p.parallel()) {
      if (p.sandwich())
        normRows(x, H, S, H, w.preFfnNorm.data(), normBias(w.preFfnNormBias), eps, offset, h, H);
      else
        normRows(x, H, S, H, w.postAttnNorm.data(), normBias(w.postAttnNormBias), eps, offset, h, H);
      mlpIn = h;
    }
    const int64_t I = lp.denseMlp ? p.mlp.denseIntermediate : p.mlp.intermediate;
    if (lp.denseMlp) {
      float *gu = Scratch::sized(sc.gateUp, rows, w.gateUp.outPadded), *act = Scratch::sized(sc.act, rows, I);
      dense::linear(w.gateUp, mlpIn, H, rows, gu, w.gateUp.outPadded);
      if (p.mlp.gated)
        dense::gatedActivation(gateKind, gu, w.gateUp.outPadded, S, I, act, I);
      else
        activateRows(p.mlp.activation, gu, w.gateUp.outPadded, S, I, act, I);
      dense::linear(w.down, act, I, rows, o, Hp);
    } else {
      // Route each token to its top-k experts, then run each expert once on the rows routed to it.
      const int64_t E = p.mlp.experts, Ep = w.router.outPadded;
      // The experts' outputs are summed into o.
      std::fill(o, o + rows * Hp, 0.0f);
      float *routerLogits = Scratch::sized(sc.routerLogits, rows, Ep);
      dense::linear(w.router, mlpIn, H, rows, routerLogits, Ep);
      std::vector<std::vector<std::pair<int64_t, float>>> routed =
          routeTopK(routerLogits, S, Ep, p.mlp, w.selectionBias.empty() ? nullptr : w.selectionBias.data());
      for (int64_t e = 0; e < E; ++e) {
        if (routed[e].empty())
          continue;
        const Linear &gateUp = w.expertGateUp[e], &down = w.expertDown[e];
        // A few rows run the skinny GEMM (padded to its 4-row tile), MXFP4 experts their GEMV (dense::linear),
        // which takes any rows.
        int64_t n = static_cast<int64_t>(routed[e].size());
        int64_t nr = n == 1 || gateUp.storage == Storage::MXFP4 ? n : std::max(n, dense::kSkinnyRows);
        float *in = Scratch::sized(sc.expertIn, nr, H), *gu = Scratch::sized(sc.expertGateUp, nr, gateUp.outPadded),
              *act = Scratch::sized(sc.expertAct, nr, I), *out = Scratch::sized(sc.expertOut, nr, Hp);
        for (int64_t r = 0; r < n; ++r)
          std::memcpy(in + r * H, mlpIn + routed[e][r].first * H, sizeof(float) * H);
        dense::linear(gateUp, in, H, nr, gu, gateUp.outPadded);
        if (p.mlp.limit)
          dense::clampedSwiGlu(gu, gateUp.outPadded, n, I, static_cast<float>(*p.mlp.limit),
                               static_cast<float>(p.mlp.alpha), act, I);
        else
          dense::gatedActivation(gateKind, gu, gateUp.outPadded, n, I, act, I);
        dense::linear(down, act, I, nr, out, Hp);
        for (int64_t r = 0; r < n; ++r) {
          auto [t, weight] = routed[e][r];
          dense::addScaled(o + t * Hp, Hp, out + r * Hp, Hp, weight, 1, H, o + t * Hp, Hp);
        }
      }
      if (const int64_t Is = p.mlp.sharedIntermediate) {
        // The shared expert on every row, added (times sigmoid(shared_expert_gate . x) per token in Qwen2-MoE).
        const Linear &gateUp = w.sharedGateUp;
        float *gu = Scratch::sized(sc.gateUp, rows, gateUp.outPadded), *act = Scratch::sized(sc.act, rows, Is),
              *out = Scratch::sized(sc.expertOut, rows, Hp);
        dense::linear(gateUp, mlpIn, H, rows, gu, gateUp.outPadded);
        dense::gatedActivation(gateKind, gu, gateUp.outPadded, S, Is, act, Is);
        dense::linear(w.sharedDown, act, Is, rows, out, Hp);
        const float *gate = nullptr;
        if (p.mlp.sharedGate) {
          float *g = Scratch::sized(sc.sharedGate, rows, w.sharedGate.outPadded);
          dense::linear(w.sharedGate, mlpIn, H, rows, g, w.sharedGate.outPadded);
          gate = g;
        }
        for (int64_t t = 0; t < S; ++t) {
          const float weight = gate ? 1.0f / (1.0f + std::exp(-gate[t * w.sharedGate.outPadded])) : 1.0f;
          dense::addScaled(o + t * Hp, Hp, out + t * Hp, Hp, weight, 1, H, o + t * Hp, Hp);
        }
      }
    }
    if (p.sandwich() || p.postNorms())
      normRows(o, Hp, S, H, w.postFfnNorm.data(), normBias(w.postFfnNormBias), eps, offset, o, Hp);
    dense::addScaled(x, H, o, Hp, residualScale, S, H, x, H);
  }

  s.position = T;
  if (!logits)
    return;
  const float *last = x + (S - 1) * H;
  float *normed = Scratch::sized(sc.normed, 1, H), *out = Scratch::sized(sc.logits, 1, m.lmHead.outPadded);
  normRows(last, H, 1, H, m.finalNorm.data(), normBias(m.finalNormBias), eps, offset, normed, H);
  dense::linear(m.lmHead, normed, H, 1, out, m.lmHead.outPadded);
  for (int64_t v = 0; v < p.vocab; ++v) {
    float z = out[v];
    if (p.logitScale != 1.0)
      z = static_cast<float>(z * p.logitScale);
    if (p.finalSoftcap)
      z = static_cast<float>(*p.finalSoftcap * std::tanh(z / *p.finalSoftcap));
    logits[v] = z;
  }
}

/// A GPU module's kernel, through the public entry point so every call is checked like a user's.
void runKernel(xfrt_session &s, const std::string &kernel, std::vector<xfrt_tensor> list, size_t layer,
               llvm::ArrayRef<OperandPitch> pitches = {}) {
  if (xfrt_status status = runKernelPitched(s.context, s.model->module, kernel.c_str(), list.data(),
                                            static_cast<int64_t>(list.size()), pitches)) {
    std::string message = xfrt_status_message(status);
    xfrt_status_free(status);
    fail(layer == SIZE_MAX ? message : "layer " + std::to_string(layer) + ": " + message);
  }
}

/// A tensor over `data` (an input may be const: kernels do not write their inputs).
template <typename T>
xfrt_tensor view(const std::vector<T> &data, std::initializer_list<int64_t> shape) {
  xfrt_tensor t{};
  t.data = const_cast<T *>(data.data());
  t.rank = static_cast<int32_t>(shape.size());
  std::copy(shape.begin(), shape.end(), t.shape);
  return t;
}

/// A layer's KV cache on a GPU. The device keeps the whole [Hkv, capacity, D] arrays (resident pins),
/// which the attention kernel reads in place (its key and value rows are pitched) and xf_dense_qkv_key and
/// _value append a forward's rows to; the host keeps the policy (sink tokens, window moves, growth) on its mirror,
/// whose rows [synced, count) differ from the device's between the two calls below.
///
/// Before the append (the mirror is current): sends the rows the policy moved, or, when the cache grew,
/// the whole arrays to a new device copy.
void sendCache(xfrt_session &s, LayerCache &cache, size_t layer) {
  auto check = [&](llvm::Error err) {
    if (err)
      fail("layer " + std::to_string(layer) + ": keeping the KV cache on " + s.context->device + ": " +
           llvm::toString(std::move(err)));
  };
  bool moved = false;
  for (auto [rows, device] : {std::pair{&cache.k, &cache.deviceK}, std::pair{&cache.v, &cache.deviceV}}) {
    if (*device == rows->data())
      continue;
    if (*device)
      s.context->unpin(*device);
    *device = nullptr;
    check(s.context->pin(rows->data(), rows->size(), /*resident=*/true));
    *device = rows->data();
    check(s.context->updatePinned(rows->data(), 0, rows->size()));
    moved = true;
  }
  if (!moved && cache.count > cache.synced) {
    for (std::vector<uint8_t> *rows : {&cache.k, &cache.v}) {
      const size_t rowBytes = static_cast<size_t>(cache.dimsOf(*rows)) * cache.elementBytes();
      for (int64_t h = 0; h < cache.kvHeads; ++h)
        check(s.context->updatePinned(rows->data(), cache.row(*rows, h, cache.synced) - rows->data(),
                                      rowBytes * (cache.count - cache.synced)));
    }
  }
  cache.synced = cache.count;
}

/// After the forward: the appended rows' ranges, to read back into the mirror.
void cacheRowsToFetch(LayerCache &cache, std::vector<HostRange> &ranges) {
  for (std::vector<uint8_t> *rows : {&cache.k, &cache.v}) {
    const size_t rowBytes = static_cast<size_t>(cache.dimsOf(*rows)) * cache.elementBytes();
    for (int64_t h = 0; cache.count > cache.synced && h < cache.kvHeads; ++h)
      ranges.push_back({rows->data(), static_cast<size_t>(cache.row(*rows, h, cache.synced) - rows->data()),
                        rowBytes * (cache.count - cache.synced)});
  }
  cache.synced = cache.count;
}

/// The fewest rows a GPU product takes the tiled kernel for: below, most of a 64-row tile would be padding,
/// and the subgroup form's 4-row items read each weight at most 8 times over.
constexpr int64_t kTiledRows = 32;

/// The forward of a GPU module: every dense op and attention runs as one of its kernels on the context's
/// device, where the weights, the KV cache and the activations stay. What crosses between host and device
/// is small and at the ends: before the first kernel the token ids, the RoPE tables and the cache policy's
/// changes (sendCache), after the last the logits and the appended cache rows (cacheRowsToFetch). MoE layers
/// route on the device too.
void forwardGpu(xfrt_session &s, const int32_t *tokens, int64_t S, float *logits) {
  xfrt_model &m = *s.model;
  const Plan &p = m.plan;
  GpuActivations &a = s.gpu;
  const int64_t H = p.hidden, pos0 = s.position, T = pos0 + S;
  const size_t none = SIZE_MAX;
  // On the device (resident), sized before any view of them is taken.
  auto resident = [&](std::vector<float> &v, int64_t n) -> std::vector<float> & {
    a.reserve(*s.context, v, n);
    return v;
  };
  // The forward's host inputs go to their resident arrays once, here.
  auto send = [&](std::vector<float> &array, int64_t n) {
    if (llvm::Error err = s.context->updatePinned(array.data(), 0, static_cast<size_t>(n) * sizeof(float)))
      fail("sending inputs to " + s.context->device + ": " + llvm::toString(std::move(err)));
  };
  auto constant = [&](std::vector<float> values) -> const std::vector<float> & {
    return a.constant(*s.context, std::move(values));
  };
  if (p.mlp.experts > 0) {
    // Dense and mixture layers share the MLP's arrays: sized for both before any layer takes a view.
    const int64_t denseWidth = p.mlp.gated ? 2 * p.mlp.denseIntermediate : p.mlp.denseIntermediate;
    resident(a.gateUp, S * std::max(denseWidth, p.mlp.topK * 2 * p.mlp.intermediate));
    resident(a.act, S * std::max(p.mlp.denseIntermediate, p.mlp.topK * p.mlp.intermediate));
  }
  std::vector<float> &x = resident(a.x, S * H), &sum = resident(a.sum, S * H), &h = resident(a.h, S * H),
                     &o = resident(a.o, S * H), &ids = resident(a.ids, S);
  std::copy(tokens, tokens + S, ids.begin());
  send(ids, S);
  if (p.learnedPositions) {
    std::vector<float> &positionIds = resident(a.positionIds, S);
    for (int64_t t = 0; t < S; ++t)
      positionIds[t] = static_cast<float>(pos0 + t);
    send(positionIds, S);
  }
  const int64_t half = p.rope.rotaryDim / 2;
  std::vector<float> &cosModel = resident(a.cosT, S * half), &sinModel = resident(a.sinT, S * half);
  ropeTables(p.rope, pos0, S, cosModel.data(), sinModel.data());
  send(cosModel, S * half);
  send(sinModel, S * half);
  if (p.slidingRope) {
    ropeTables(*p.slidingRope, pos0, S, resident(a.cosSliding, S * half).data(), resident(a.sinSliding, S * half).data());
    send(a.cosSliding, S * half);
    send(a.sinSliding, S * half);
  }
  if (p.anyNoRope) {
    std::fill_n(resident(a.cosNone, S * half).begin(), S * half, 1.0f);
    std::fill_n(resident(a.sinNone, S * half).begin(), S * half, 0.0f);
    send(a.cosNone, S * half);
    send(a.sinNone, S * half);
  }
  // The cache policy runs on the host mirrors first, its changes go to the device, and each layer's
  // append position up: all before the first kernel, so none of it interrupts the queued work.
  a.appendAt.resize(p.layers.size());
  for (size_t l = 0; l < p.layers.size(); ++l) {
    s.caches[l].reserveFor(S);
    sendCache(s, s.caches[l], l);
    resident(a.appendAt[l], 1)[0] = static_cast<float>(s.caches[l].count);
    send(a.appendAt[l], 1);
  }
  const std::vector<float> &params = constant({static_cast<float>(p.normEps), p.unitOffset ? 1.0f : 0.0f});
  runKernel(s, "xf_dense_embed", {view(ids, {S}), view(m.embedding, {p.vocab, H}), view(x, {S, H})}, none);
  if (p.embedScale != 1.0) {
    runKernel(s, "xf_dense_scale",
              {view(x, {S * H}), view(constant({static_cast<float>(p.embedScale)}), {1}), view(sum, {S * H})}, none);
    x.swap(sum);
  }
  if (p.learnedPositions) {
    // GPT-2: the rows of the learned position table at the tokens' positions, added.
    runKernel(s, "xf_dense_embed",
              {view(a.positionIds, {S}), view(m.positionTable, {p.maxPositions, H}), view(h, {S, H})}, none);
    runKernel(s, "xf_dense_add", {view(x, {S * H}), view(h, {S * H}), view(sum, {S * H})}, none);
    x.swap(sum);
  }
  // y = x W^T (+ b) with W stored [out, in] (loadGpuWeights), the bias added in place. Many rows (prefill)
  // take the workgroup-tiled products, which read each weight once per 64 rows, or with the bf16 dot
  // (bf16 weights, as load ensures) cuBLAS's bf16 GEMM on x rounded to bf16 pairs; not the MoE routers,
  // whose rounding could change a token's experts (as on the CPU). `Residual`: out += the product (the
  // `_acc` kernels; no bias), a residual add in the product's epilogue.
  enum class Use { Plain, Router, Residual };
  if (m.dot == dense::Dot::BF16 && S >= kTiledRows) {
    // The rounded inputs' buffer at its largest (the widest input: hidden, intermediate or heads x dim).
    int64_t widest = std::max({H, p.mlp.intermediate, p.mlp.denseIntermediate, p.mlp.sharedIntermediate});
    for (const LayerPlan &lp : p.layers)
      widest = std::max(widest, lp.heads * lp.headDim);
    resident(a.pairs, S * ((widest + 1) / 2));
  }
  auto project = [&](std::vector<float> &in, int64_t k, std::vector<float> &weight, std::vector<float> &bias,
                     std::vector<float> &out, int64_t n, size_t layer, int64_t rows, Use use = Use::Plain) {
    bool bf16 = m.gpuBf16.contains(weight.data()), tiled = rows >= kTiledRows;
    const int64_t words = (k + 1) / 2;
    const std::string acc = use == Use::Residual ? "_acc" : "";
    if (m.dot == dense::Dot::BF16 && bf16 && tiled && use != Use::Router) {
      std::vector<float> &pairs = resident(a.pairs, rows * words);
      runKernel(s, "xf_dense_round_bf16", {view(in, {rows, k}), view(pairs, {rows, words})}, layer);
      runKernel(s, "xf_dense_dot_bf16" + acc,
                {view(pairs, {rows, words}), view(weight, {n, words}), view(out, {rows, n})}, layer);
    } else {
      runKernel(s, std::string(tiled ? "xf_dense_matmul_tiled" : "xf_dense_matmul") + (bf16 ? "_bf16" : "") + acc,
                {view(in, {rows, k}), view(weight, {n, bf16 ? words : k}), view(out, {rows, n})}, layer);
    }
    if (!bias.empty())
      runKernel(s, "xf_dense_bias_add", {view(out, {rows, n}), view(bias, {n}), view(out, {rows, n})}, layer);
  };
  // The MLP activation (the plan's: silu, gelu_tanh, gelu, relu or relu2), with a gate and without.
  const std::string gateKernel = "xf_dense_" + p.mlp.activation + "_gate_stacked",
                    activationKernel = "xf_dense_" + p.mlp.activation;
  // x += residual_scale * y for y = o or h (the other one takes the scaled copy).
  auto addResidual = [&](std::vector<float> &y, size_t layer) {
    std::vector<float> *term = &y;
    if (p.residualScale != 1.0) {
      term = &y == &o ? &h : &o;
      runKernel(s, "xf_dense_scale",
                {view(y, {S * H}), view(constant({static_cast<float>(p.residualScale)}), {1}), view(*term, {S * H})},
                layer);
    }
    runKernel(s, "xf_dense_add", {view(x, {S * H}), view(*term, {S * H}), view(sum, {S * H})}, layer);
    x.swap(sum);
  };
  // The norm of rows [rows, k] of `in` into `out`: RMSNorm, or a LayerNorm model's (with its bias).
  const std::vector<float> &layerNormParams = constant({static_cast<float>(p.normEps), p.unitOffset ? 1.0f : 0.0f});
  auto normKernel = [&](std::vector<float> &in, int64_t rows, int64_t k, const std::vector<float> &gain,
                      const std::vector<float> &normBias, std::vector<float> &out, size_t layer) {
    if (p.layerNorm)
      runKernel(s, "xf_dense_layer_norm",
                {view(in, {rows, k}), view(gain, {k}), view(normBias, {k}), view(layerNormParams, {2}),
                 view(out, {rows, k})},
                layer);
    else
      runKernel(s, "xf_dense_rms_norm", {view(in, {rows, k}), view(gain, {k}), view(params, {2}), view(out, {rows, k})},
                layer);
  };
  // The norm of `in` [rows, k] (gain [k]) into `normed` and the product of it, y = norm(in) W^T (+ b). A
  // decode step's rows fold an RMSNorm into the product (the `_norm` kernels: the sums of squares in the
  // product's own loop), one launch instead of two, where the compiled kernel runs it (not cuBLAS's f32
  // GEMM).
  const bool blasF32 = s.context->cuda && s.context->cuda->hasBlas(); // f32 products go to cuBLAS
  auto normProject = [&](std::vector<float> &in, int64_t k, const std::vector<float> &gain,
                         const std::vector<float> &normBias, std::vector<float> &normed, std::vector<float> &weight,
                         std::vector<float> &bias, std::vector<float> &out, int64_t n, size_t layer) {
    const bool bf16 = m.gpuBf16.contains(weight.data());
    if (S < kTiledRows && (bf16 || !blasF32) && !p.layerNorm && !p.parallel()) {
      runKernel(s, bf16 ? "xf_dense_matmul_bf16_norm" : "xf_dense_matmul_norm",
                {view(in, {S, k}), view(gain, {k}), view(params, {2}), view(weight, {n, bf16 ? (k + 1) / 2 : k}),
                 view(out, {S, n})},
                layer);
      if (!bias.empty())
        runKernel(s, "xf_dense_bias_add", {view(out, {S, n}), view(bias, {n}), view(out, {S, n})}, layer);
      return;
    }
    normKernel(in, S, k, gain, normBias, normed, layer);
    project(normed, k, weight, bias, out, n, layer, S);
  };
  // Columns [from, from + cols) of in [rows, width].
  auto slice = [&](std::vector<float> &in, int64_t rows, int64_t width, int64_t from, std::vector<float> &out,
                   int64_t cols, size_t layer) {
    runKernel(s, "xf_dense_slice_cols",
              {view(in, {rows, width}), view(constant({static_cast<float>(from)}), {1}), view(out, {rows, cols})},
              layer);
  };

  // Latent attention's q | k | v [S, width] from the attention input, as the CPU's latentQkv: the query
  // latent's product, norm and expansion (or q_proj), the key/value latent's product and norm, kv_b_proj,
  // then xf_dense_latent_qkv.
  auto latentQkv = [&](std::vector<float> &in, size_t layer, std::vector<float> &qkv, int64_t width) {
    const LayerPlan &lp = p.layers[layer];
    const LayerWeights &w = m.layers[layer];
    GpuLayerWeights &g = m.gpuLayers[layer];
    const Plan::LatentPlan &lat = p.latent;
    const int64_t Hq = lp.heads, D = lp.headDim, rank = lat.kvRank, cols = rank + lat.ropeDim,
                  kvCols = Hq * (D - lat.ropeDim + lp.headDimV), qOut = lat.qRank > 0 ? lat.qRank : Hq * D;
    std::vector<float> noBias;
    std::vector<float> &qa = resident(a.latentQuery, S * qOut);
    project(in, H, g.qA, g.qABias, qa, qOut, layer, S);
    std::vector<float> *q = &qa;
    if (lat.qRank > 0) {
      std::vector<float> &normed = resident(a.latentQueryNormed, S * lat.qRank);
      normKernel(qa, S, lat.qRank, w.qANorm, noBias, normed, layer);
      q = &resident(a.latentQueries, S * Hq * D);
      project(normed, lat.qRank, g.qB, noBias, *q, Hq * D, layer, S);
    }
    std::vector<float> &c = resident(a.latentKeys, S * cols), &latent = resident(a.latentKeysOnly, S * rank),
                       &normed = resident(a.latentKeysNormed, S * rank), &kv = resident(a.keysValues, S * kvCols);
    project(in, H, g.kvA, g.kvABias, c, cols, layer, S);
    slice(c, S, cols, 0, latent, rank, layer);
    normKernel(latent, S, rank, w.kvANorm, noBias, normed, layer);
    project(normed, rank, g.kvB, noBias, kv, kvCols, layer, S);
    runKernel(s, "xf_dense_latent_qkv",
              {view(*q, {S, Hq * D}), view(c, {S, cols}), view(kv, {S, kvCols}),
               view(constant({static_cast<float>(rank), static_cast<float>(D)}), {2}), view(qkv, {S, width})},
              layer);
  };

  for (size_t l = 0; l < p.layers.size(); ++l) {
    const LayerPlan &lp = p.layers[l];
    LayerWeights &w = m.layers[l];
    GpuLayerWeights &g = m.gpuLayers[l];
    LayerCache &cache = s.caches[l];
    const int64_t D = lp.headDim, Dv = lp.headDimV, Hq = lp.heads, Hkv = lp.kvHeads, width = Hq * D + Hkv * (D + Dv);
    std::vector<float> &qkv = resident(a.qkv, S * width), &queries = resident(a.queries, S * Hq * D),
                       &attn = resident(a.attn, S * Hq * Dv);

    // Head gates, affine attention's alpha and latent attention's projections read the attention input: a
    // norm folded into the q | k | v product would leave none to read.
    const bool ownNorm = lp.routerIndex >= 0 || lp.affine || p.latent.enabled();
    std::vector<float> *attnIn = p.postNorms() ? &x : &h;
    if (ownNorm && !p.postNorms())
      normKernel(x, S, H, w.inputNorm, w.inputNormBias, h, l);
    if (p.latent.enabled())
      latentQkv(*attnIn, l, qkv, width);
    else if (p.postNorms() || ownNorm)
      project(*attnIn, H, g.qkv, g.qkvBias, qkv, width, l, S); // normed above, or no norm before (OLMo 2)
    else
      normProject(x, H, w.inputNorm, w.inputNormBias, h, g.qkv, g.qkvBias, qkv, width, l);
    // [1, Hq, S] per token and head: the router kernel's gates; alpha before its activation (the kernel's).
    std::vector<float> *gates = nullptr, *alpha = nullptr;
    if (lp.routerIndex >= 0) {
      gates = &resident(a.gates, Hq * S);
      runKernel(s, m.module->info.kernels[lp.routerIndex].name,
                {view(*attnIn, {1, S, H}), view(w.mohRouted, {Hq - lp.sharedHeads, H}),
                 view(w.mohShared, {lp.sharedHeads, H}), view(w.mohHead, {2, H}), view(*gates, {1, Hq, S})},
                l);
    }
    if (lp.affine) {
      std::vector<float> &perToken = resident(a.alphaRows, S * Hq);
      alpha = &resident(a.alpha, Hq * S);
      std::vector<float> noBias;
      project(*attnIn, H, g.alphaProj, noBias, perToken, Hq, l, S);
      runKernel(s, "xf_dense_transpose01", {view(perToken, {S, Hq, 1}), view(*alpha, {Hq, S, 1})}, l);
    }
    // GPT-NeoX's MLP reads its own norm of the layer's input, before attention joins the residual.
    std::vector<float> *mlpNormed = &h;
    if (p.twoNorms()) {
      mlpNormed = &resident(a.mlpNormed, S * H);
      normKernel(x, S, H, w.postAttnNorm, w.postAttnNormBias, *mlpNormed, l);
    }
    const float eps = static_cast<float>(p.normEps), offset = p.unitOffset ? 1.0f : 0.0f,
                center = p.layerNorm ? 1.0f : 0.0f; // the q/k norms are the model's kind: LayerNorms center
    if (lp.qkNormProjection) {
      // OLMo 2's q and k norms over each token's whole projections, in place in q | k | v.
      runKernel(s, "xf_dense_rms_norm_cols",
                {view(w.qNorm, {Hq * D}), view(constant({eps, offset, 0.0f, center}), {4}), view(qkv, {S, width})},
                l);
      runKernel(s, "xf_dense_rms_norm_cols",
                {view(w.kNorm, {Hkv * D}), view(constant({eps, offset, static_cast<float>(Hq * D), center}), {4}),
                 view(qkv, {S, width})},
                l);
    }
    // From q | k | v: the queries, normalized (per-head qk-norm) and rotated, in attention's [Hq, S, D]; the
    // keys likewise and the values appended to the cache on the device, rounded to its element type (read
    // back after the forward: cacheRowsToFetch), where the policy made room before the forward.
    const bool headNorm = lp.qkNorm && !lp.qkNormProjection;
    const std::string norm = headNorm ? "_norm" : "",
                      suffix = cache.dtype == XFRT_BF16 ? "_bf16" : cache.dtype == XFRT_F16 ? "_f16" : "";
    auto cacheOf = [&](std::vector<uint8_t> &rows) {
      xfrt_tensor into = view(rows, {Hkv, cache.capacity, cache.dimsOf(rows)});
      into.dtype = cache.dtype;
      return into;
    };
    std::vector<float> &cosT = lp.noRope ? a.cosNone : lp.slidingRope ? a.cosSliding : a.cosT,
                       &sinT = lp.noRope ? a.sinNone : lp.slidingRope ? a.sinSliding : a.sinT;
    std::vector<xfrt_tensor> qOperands = {view(qkv, {S, width}), view(cosT, {S, half}), view(sinT, {S, half})},
                             kOperands = qOperands;
    // The norm's gains [1, D] shared by the heads or [heads, D]; params end in the center flag.
    auto params = [&](float col0) {
      return headNorm ? view(constant({col0, eps, offset, center}), {4}) : view(constant({col0, eps, offset}), {3});
    };
    if (headNorm) {
      qOperands.push_back(view(w.qNorm, {lp.qkNormHeadGains ? Hq : 1, D}));
      kOperands.push_back(view(w.kNorm, {lp.qkNormHeadGains ? Hkv : 1, D}));
    }
    qOperands.push_back(params(0.0f));
    qOperands.push_back(view(queries, {Hq, S, D}));
    kOperands.push_back(params(static_cast<float>(Hq * D)));
    kOperands.push_back(view(a.appendAt[l], {1}));
    kOperands.push_back(cacheOf(cache.k));
    runKernel(s, "xf_dense_qkv_query" + norm, qOperands, l);
    runKernel(s, "xf_dense_qkv_key" + norm + suffix, kOperands, l);
    runKernel(s, "xf_dense_qkv_value" + suffix,
              {view(qkv, {S, width}), view(constant({static_cast<float>((Hq + Hkv) * D)}), {1}),
               view(a.appendAt[l], {1}), cacheOf(cache.v)},
              l);
    cache.count += S;
    const int64_t Tk = cache.count;
    // The kernel reads the cache's [Hkv, capacity, D] (values: Dv) rows in place, pitched by capacity.
    auto cacheView = [&](std::vector<uint8_t> &rows) {
      xfrt_tensor t = view(rows, {1, Hkv, Tk, cache.dimsOf(rows)});
      t.dtype = cache.dtype;
      return t;
    };
    const KernelInfo &attention = m.module->info.kernels[lp.kernelIndex];
    const OperandPitch pitches[] = {{attention.operandIndex("key"), 2, cache.capacity},
                                    {attention.operandIndex("value"), 2, cache.capacity}};
    std::vector<xfrt_tensor> operands;
    for (const OperandInfo &operand : attention.operands) {
      const std::string &name = operand.name;
      operands.push_back(name == "query"      ? view(queries, {1, Hq, S, D})
                         : name == "key"      ? cacheView(cache.k)
                         : name == "value"    ? cacheView(cache.v)
                         : name == "sinks"    ? view(w.sinks, {Hq})
                         : name == "gates"    ? view(*gates, {1, Hq, S})
                         : name == "alpha"    ? view(*alpha, {1, Hq, S})
                         : name == "alpha_ma" ? view(w.alphaMa, {Hq})
                                              : view(attn, {1, Hq, S, Dv})); // the output (the plan admits no other)
    }
    runKernel(s, attention.name, std::move(operands), l, pitches);

    std::vector<float> *merged = &attn;
    if (S > 1) {
      merged = &resident(a.merged, S * Hq * Dv);
      runKernel(s, "xf_dense_transpose01", {view(attn, {Hq, S, Dv}), view(*merged, {S, Hq, Dv})}, l);
    }
    // The residual adds go into the o and down products' epilogues (x += ...), except where a norm (Gemma 2's
    // sandwich), a bias or a residual scale (Granite) comes between.
    const bool fuseResidual = !p.sandwich() && !p.postNorms() && p.residualScale == 1.0;
    if (fuseResidual && g.oBias.empty()) {
      project(*merged, Hq * Dv, g.o, g.oBias, x, H, l, S, Use::Residual);
    } else {
      project(*merged, Hq * Dv, g.o, g.oBias, o, H, l, S);
      std::vector<float> *attnOut = &o;
      if (p.sandwich() || p.postNorms()) {
        normKernel(o, S, H, w.postAttnNorm, w.postAttnNormBias, h, l);
        attnOut = &h;
      }
      addResidual(*attnOut, l);
    }

    const std::vector<float> &mlpNorm = p.sandwich() ? w.preFfnNorm : w.postAttnNorm,
                             &mlpNormBias = p.sandwich() ? w.preFfnNormBias : w.postAttnNormBias;
    std::vector<float> *mlpOut = &o;
    const int64_t I = lp.denseMlp ? p.mlp.denseIntermediate : p.mlp.intermediate;
    if (lp.denseMlp) {
      // One product for gate and up ([S, 2I]) of the normed x, then f(gate) * up.
      // Without a gate (Starcoder 2), act(up x) alone: one product of width I.
      const int64_t width = p.mlp.gated ? 2 * I : I;
      std::vector<float> &gateUp = resident(a.gateUp, S * width), &act = resident(a.act, S * I);
      if (p.postNorms())
        project(x, H, g.gateUp, g.gateUpBias, gateUp, width, l, S);
      else if (p.parallel())
        project(*mlpNormed, H, g.gateUp, g.gateUpBias, gateUp, width, l, S); // h, or GPT-NeoX's own norm
      else
        normProject(x, H, mlpNorm, mlpNormBias, h, g.gateUp, g.gateUpBias, gateUp, width, l);
      if (p.mlp.gated)
        runKernel(s, gateKernel, {view(gateUp, {S, 2 * I}), view(act, {S, I})}, l);
      else
        runKernel(s, activationKernel, {view(gateUp, {S * I}), view(act, {S * I})}, l);
      if (fuseResidual && g.downBias.empty()) {
        project(act, I, g.down, g.downBias, x, H, l, S, Use::Residual);
        mlpOut = nullptr;
      } else {
        project(act, I, g.down, g.downBias, o, H, l, S);
      }
    } else {
      // Routing on the device gives each token's K (expert, weight) routes (routeTopK's rules); row t * K + k
      // of the experts' products is token t through its k-th expert, then the weighted sum per token.
      const int64_t E = p.mlp.experts, K = p.mlp.topK, R = S * K;
      std::vector<float> &logitsE = resident(a.routerLogits, S * E), &routes = resident(a.routes, R * 2),
                         &gateUp = resident(a.gateUp, R * 2 * I), &act = resident(a.act, R * I),
                         &out = resident(a.expertOut, R * H);
      // The router and every expert read the normed x (x itself with post norms).
      std::vector<float> &moeIn = p.postNorms() ? x : p.parallel() ? *mlpNormed : h;
      if (!p.postNorms() && !p.parallel())
        normKernel(x, S, H, mlpNorm, mlpNormBias, h, l);
      project(moeIn, H, g.router, g.routerBias, logitsE, E, l, S, Use::Router);
      if (p.mlp.sparseMixer)
        runKernel(s, "xf_dense_topk_sparsemixer",
                  {view(logitsE, {S, E}), view(constant({static_cast<float>(p.mlp.jitterEps)}), {1}),
                   view(routes, {R, 2})},
                  l);
      else if (p.mlp.scored())
        runKernel(
            s, "xf_dense_topk_scored",
            {view(logitsE, {S, E}),
             w.selectionBias.empty() ? view(constant(std::vector<float>(E, 0.0f)), {E}) : view(w.selectionBias, {E}),
             view(constant({static_cast<float>(K), p.mlp.normTopK ? 1.0f : 0.0f, static_cast<float>(p.mlp.groups),
                            static_cast<float>(p.mlp.topGroups), static_cast<float>(p.mlp.routedScale),
                            p.mlp.sigmoidRouter ? 0.0f : 1.0f, static_cast<float>(p.mlp.normMin)}),
                  {7}),
             view(routes, {R, 2})},
            l);
      else
        runKernel(s, "xf_dense_topk_softmax",
                  {view(logitsE, {S, E}), view(constant({static_cast<float>(K), p.mlp.normTopK ? 1.0f : 0.0f}), {2}),
                   view(routes, {R, 2})},
                  l);
      // Many rows (prefill) go through the grouped products, which read each expert's weights once per 64
      // of its rows; a few (decode) through the routed ones, one (row, choice) per work item.
      const bool grouped = R >= kTiledRows;
      std::vector<float> *groups = nullptr;
      if (grouped) {
        groups = &resident(a.groups, E * (R + 1));
        runKernel(s, "xf_dense_route_groups", {view(routes, {R, 2}), view(*groups, {E, R + 1})}, l);
      }
      auto routed = [&](std::vector<float> &in, int64_t inRows, int64_t k, std::vector<float> &weight,
                        std::vector<float> &bias, std::vector<float> &y, int64_t n, int64_t perInput) {
        bool bf16 = m.gpuBf16.contains(weight.data());
        xfrt_tensor input = view(in, {inRows, k}), stacked = view(weight, {E, n, bf16 ? (k + 1) / 2 : k}),
                    per = view(constant({static_cast<float>(perInput)}), {1}), output = view(y, {R, n});
        if (grouped)
          runKernel(s, bf16 ? "xf_dense_matmul_grouped_bf16" : "xf_dense_matmul_grouped",
                    {input, stacked, view(*groups, {E, R + 1}), per, output}, l);
        else
          runKernel(s, bf16 ? "xf_dense_matmul_routed_bf16" : "xf_dense_matmul_routed",
                    {input, stacked, view(routes, {R, 2}), per, output}, l);
        if (!bias.empty())
          runKernel(s, "xf_dense_bias_add_routed", {view(y, {R, n}), view(bias, {E, n}), view(routes, {R, 2}),
                                                    view(y, {R, n})}, l);
      };
      // The experts' gate and up in one product per (row, choice), [R, 2I], then f(gate) * up.
      routed(moeIn, S, H, g.gateUpStack, g.gateUpBiasStack, gateUp, 2 * I, K);
      if (p.mlp.limit)
        runKernel(s, "xf_dense_clamped_swiglu_stacked",
                  {view(gateUp, {R, 2 * I}),
                   view(constant({static_cast<float>(p.mlp.alpha), static_cast<float>(*p.mlp.limit)}), {2}),
                   view(act, {R, I})}, l);
      else
        runKernel(s, gateKernel, {view(gateUp, {R, 2 * I}), view(act, {R, I})}, l);
      routed(act, R, I, g.downStack, g.downBiasStack, out, H, 1);
      // The weighted sum per token, added to the residual unless a norm comes between.
      if (fuseResidual) {
        runKernel(s, "xf_dense_moe_combine_acc", {view(out, {R, H}), view(routes, {R, 2}), view(x, {S, H})}, l);
        mlpOut = nullptr;
      } else {
        runKernel(s, "xf_dense_moe_combine", {view(out, {R, H}), view(routes, {R, 2}), view(o, {S, H})}, l);
      }
      if (const int64_t Is = p.mlp.sharedIntermediate) {
        // The shared expert on every row, times sigmoid(shared_expert_gate . x) per token where it has a
        // gate (Qwen2-MoE), added to the routed experts' sum (in x when that went to the residual).
        std::vector<float> &sharedGateUp = resident(a.sharedGateUp, S * 2 * Is),
                           &sharedAct = resident(a.sharedAct, S * Is), &sharedOut = resident(a.sharedOut, S * H);
        std::vector<float> noBias;
        project(moeIn, H, g.sharedGateUp, noBias, sharedGateUp, 2 * Is, l, S);
        runKernel(s, gateKernel, {view(sharedGateUp, {S, 2 * Is}), view(sharedAct, {S, Is})}, l);
        project(sharedAct, Is, g.sharedDown, noBias, sharedOut, H, l, S);
        if (p.mlp.sharedGate) {
          std::vector<float> &sharedGate = resident(a.sharedGate, S);
          project(moeIn, H, g.sharedGate, noBias, sharedGate, 1, l, S, Use::Router);
          runKernel(s, "xf_dense_gated_rows_acc",
                    {view(sharedOut, {S, H}), view(sharedGate, {S, 1}), view(mlpOut ? o : x, {S, H})}, l);
        } else {
          runKernel(s, "xf_dense_rows_acc", {view(sharedOut, {S, H}), view(mlpOut ? o : x, {S, H})}, l);
        }
      }
    }
    if (mlpOut && (p.sandwich() || p.postNorms())) {
      normKernel(*mlpOut, S, H, w.postFfnNorm, w.postFfnNormBias, h, l);
      mlpOut = &h;
    }
    if (mlpOut)
      addResidual(*mlpOut, l);
  }

  s.position = T;
  if (logits) {
    // The last token's row (columns of x seen as one row), normed, through the lm_head.
    std::vector<float> &last = resident(a.last, H), &normed = resident(a.normed, H),
                       &out = resident(a.logits, p.vocab);
    // The last position's row (a decode step's only one).
    std::vector<float> *lastRow = &x;
    if (S > 1) {
      slice(x, 1, S * H, (S - 1) * H, last, H, none);
      lastRow = &last;
    }
    normKernel(*lastRow, 1, H, m.finalNorm, m.finalNormBias, normed, none);
    project(normed, H, m.gpuLmHead, m.gpuLmHeadBias, out, p.vocab, none, 1);
  }
  // One read-back: the logits and every layer's appended cache rows.
  std::vector<HostRange> back;
  if (logits)
    back.push_back({a.logits.data(), 0, static_cast<size_t>(p.vocab) * sizeof(float)});
  for (LayerCache &cache : s.caches)
    cacheRowsToFetch(cache, back);
  if (llvm::Error err = s.context->download(back))
    fail("reading the logits and KV cache rows back from " + s.context->device + ": " +
         llvm::toString(std::move(err)));
  if (logits)
    for (int64_t vv = 0; vv < p.vocab; ++vv) {
      float z = a.logits[vv];
      if (p.logitScale != 1.0)
        z = static_cast<float>(z * p.logitScale);
      logits[vv] = p.finalSoftcap ? static_cast<float>(*p.finalSoftcap * std::tanh(z / *p.finalSoftcap)) : z;
    }
}

/// Every projection of a CPU model multiplies as `dot`, except the MoE routers and a shared expert's gate: top-k
/// picks experts from the routers' logits, a discrete choice that rounding could flip, for a GEMM too small to
/// matter. (Nor the variants' small per-head products: the MoH router, affine attention's alpha.)
void setDot(xfrt_model &m, dense::Dot dot) {
  m.dot = dot;
  // Dot::BF16 stores the weights k-paired, its operand layout (Linear::pairForDot); Dot::I8 quantizes them.
  auto set = [&](Linear &l) {
    if (dot == dense::Dot::BF16)
      l.pairForDot();
    else if (dot == dense::Dot::I8)
      l.quantizeForDot();
    else
      l.dot = dot;
  };
  set(m.lmHead);
  for (LayerWeights &w : m.layers) {
    for (Linear *l : {&w.qkv, &w.o, &w.gateUp, &w.down, &w.qA, &w.qB, &w.kvA, &w.kvB, &w.sharedGateUp, &w.sharedDown})
      set(*l);
    for (auto *list : {&w.expertGateUp, &w.expertDown})
      for (Linear &l : *list)
        set(l);
  }
}

} // namespace

extern "C" {

xfrt_status xfrt_model_load(const xfrt_module *module, const char *weights, xfrt_model **out) {
  return xfrt_model_load_as(module, weights, "auto", out);
}

xfrt_status xfrt_model_load_as(const xfrt_module *module, const char *weights, const char *weightType,
                               xfrt_model **out) {
  return xfrt_model_load_with(module, weights, weightType, "f32", out);
}

xfrt_status xfrt_model_load_with(const xfrt_module *module, const char *weights, const char *weightType,
                                 const char *dotType, xfrt_model **out) {
  return xfrt_model_load_with_progress(module, weights, weightType, dotType, nullptr, nullptr, out);
}

xfrt_status xfrt_model_load_with_progress(const xfrt_module *module, const char *weights, const char *weightType,
                                          const char *dotType, xfrt_progress_fn progressFn, void *user,
                                          xfrt_model **out) {
  const LoadProgress progress{progressFn, user};
  return guarded("xfrt_model_load", [&]() -> xfrt_status {
    if (!module || !weights || !out)
      return failure("xfrt_model_load: NULL argument");
    *out = nullptr;
    WeightPolicy policy = parseWeightPolicy(weightType);
    std::string dotName = dotType ? dotType : "f32";
    std::optional<dense::Dot> dot = dense::dotNamed(dotName);
    if (!dot)
      return failure("xfrt_model_load: dot type '" + dotName + "' is not one of f32, bf16, int8");
    if (*dot == dense::Dot::I8) {
      if (module->info.target != "cpu")
        return failure(llvm::formatv("xfrt_model_load: dot type 'int8' is for the CPU dense kernels; a {0} "
                                     "module multiplies as its weight type says",
                                     module->info.target));
      if (!dense::int8DotSupported())
        return failure("xfrt_model_load: dot type 'int8' needs a CPU with AVX512-VNNI (vpdpbusd; the kernels' "
                       "target also takes AVX512-BF16), and this one lacks it (or the build is not x86-64); use "
                       "dot type 'f32'");
    }
    if (*dot == dense::Dot::BF16) {
      const std::string &target = module->info.target;
      if (target != "cpu" && target != "cuda")
        return failure(llvm::formatv("xfrt_model_load: dot type 'bf16' is for the CPU dense kernels and CUDA's "
                                     "cuBLAS; a {0} module multiplies as its weight type says",
                                     target));
      if (policy && *policy != Storage::BF16)
        return failure(llvm::formatv("xfrt_model_load: dot type 'bf16' multiplies bf16 weights, not '{0}' (use "
                                     "weight type auto or bf16)",
                                     dense::storageName(*policy)));
      if (target == "cuda") {
        for (const char *kernel : {"xf_dense_round_bf16", "xf_dense_dot_bf16", "xf_dense_dot_bf16_acc"})
          if (findKernelIndex(*module, kernel) < 0)
            return failure("xfrt_model_load: dot type 'bf16' needs the dense kernel '" + std::string(kernel) +
                           "', which '" + module->path + "' lacks (compile the model with this xfc)");
      } else if (!dense::bf16DotSupported())
        return failure("xfrt_model_load: dot type 'bf16' needs a CPU with AVX512-BF16 (vdpbf16ps), and this "
                       "one has none (or the build is not x86-64); use dot type 'f32'");
      policy = Storage::BF16;
    }
    auto model = std::make_unique<xfrt_model>();
    model->module = module;
    model->plan = parsePlan(*module);
    std::string error;
    std::unique_ptr<WeightStore> store = WeightStore::open(weights, error);
    if (!store)
      return failure(error);
    const std::string &architecture = model->plan.architecture;
    if (architecture == "Gemma3ForConditionalGeneration" || architecture == "Mistral3ForConditionalGeneration") {
      // The language model of a multimodal checkpoint, beside its vision tower: language_model.model.* and
      // language_model.lm_head.* as Google and Mistral published them, model.language_model.* and lm_head.*
      // as newer transformers save them.
      if (store->find("language_model.model.embed_tokens.weight"))
        store->mapPrefixes({{"model.", "language_model.model."}, {"lm_head.", "language_model.lm_head."}});
      else if (store->find("model.language_model.embed_tokens.weight"))
        store->mapPrefixes({{"model.", "model.language_model."}, {"lm_head.", "lm_head."}});
      else
        return failure(std::string(weights) + ": no language model in this " + architecture +
                       " checkpoint (neither 'language_model.model.embed_tokens.weight' nor "
                       "'model.language_model.embed_tokens.weight')");
    } else if (!model->plan.tensorPrefixes.empty()) {
      // Tensors named other than Llama's by prefix (GPT-NeoX's gpt_neox.layers.*, embed_out). A GPT-2
      // checkpoint saved from GPT2Model (as OpenAI's gpt2 is) names them without GPT2LMHeadModel's
      // transformer.
      std::vector<std::pair<std::string, std::string>> prefixes = model->plan.tensorPrefixes;
      const llvm::StringRef base = "transformer.";
      if (architecture == "GPT2LMHeadModel" && !store->find("transformer.wte.weight") && store->find("wte.weight"))
        for (auto &[from, to] : prefixes)
          if (llvm::StringRef(to).starts_with(base))
            to = to.substr(base.size());
      store->mapPrefixes(prefixes);
    }
    model->gpu = module->info.target != "cpu";
    if (model->gpu) {
      if (policy == Storage::F16)
        return failure(llvm::formatv("xfrt_model_load: weight type 'f16' is not supported on {0} (the GPU model "
                                     "runtime keeps f32 or bf16 projections)",
                                     module->info.target));
      checkGpuSupport(*model);
      // On CUDA the f32 projections go to cuBLAS, which has no f32 x bf16 product, so "auto" keeps f32 there.
      if (module->info.target == "cuda" && !policy)
        policy = Storage::F32;
      loadGpuWeights(*model, *store, policy, progress);
      model->dot = *dot;
    } else {
      loadWeights(*model, *store, policy, progress);
      setDot(*model, *dot);
    }
    *out = model.release();
    return nullptr;
  });
}

void xfrt_model_free(xfrt_model *model) { delete model; }
int64_t xfrt_model_vocab_size(const xfrt_model *model) { return model ? model->plan.vocab : 0; }
int64_t xfrt_model_max_positions(const xfrt_model *model) { return model ? model->plan.maxPositions : 0; }

const char *xfrt_model_dot_type(const xfrt_model *model) {
  return model ? dense::dotName(model->dot) : nullptr;
}

const char *xfrt_model_weight_type(const xfrt_model *model) {
  if (!model)
    return nullptr;
  if (model->gpu)
    return model->gpuBf16.empty() ? "f32" : "bf16";
  std::optional<Storage> common;
  bool mixed = false;
  auto note = [&](const Linear &l) {
    if (l.in == 0)
      return;
    mixed |= common && *common != l.storage;
    common = l.storage;
  };
  note(model->lmHead);
  for (const LayerWeights &w : model->layers)
    for (const Linear *l : {&w.qkv, &w.o, &w.gateUp, &w.down, &w.router})
      note(*l);
  for (const LayerWeights &w : model->layers)
    for (const auto *list : {&w.expertGateUp, &w.expertDown})
      for (const Linear &l : *list)
        note(l);
  return mixed ? "mixed" : dense::storageName(common.value_or(Storage::F32));
}

xfrt_status xfrt_session_create(xfrt_model *model, xfrt_context *context, int64_t maxTokens, xfrt_session **out) {
  return guarded("xfrt_session_create", [&]() -> xfrt_status {
    if (!model || !context || !out)
      return failure("xfrt_session_create: NULL argument");
    *out = nullptr;
    int64_t limit = model->plan.maxPositions;
    if (maxTokens < 0 || (limit > 0 && maxTokens > limit))
      return failure(llvm::formatv("xfrt_session_create: max_tokens {0} is outside [0, {1}] (the model's "
                                   "context length)",
                                   maxTokens, limit));
    if (maxTokens == 0 && limit == 0)
      return failure("xfrt_session_create: the model states no context length; pass max_tokens");
    const std::string &target = model->module->info.target;
    if (target != "cpu" && llvm::StringRef(context->device).split(':').first != target)
      return failure("xfrt_session_create: the model is compiled for " + target + " but the context runs on " +
                     context->device + " (create it with xfrt_context_create_on(\"" + target + "\", ...))");
    if (model->gpu && model->dot == dense::Dot::BF16 && context->cuda && !context->cuda->hasBlas())
      return failure("xfrt_session_create: dot type 'bf16' on CUDA multiplies with cuBLAS (cublasGemmEx), which " +
                     context->device + " lacks: libcublas.so.13, .12 or .11 could not be opened, or XF_CUDA_BLAS=0 "
                     "turned it off; use dot type 'f32'");
    auto session = std::make_unique<xfrt_session>();
    session->model = model;
    session->context = context;
    session->maxTokens = maxTokens ? maxTokens : limit;
    if (model->gpu && (context->vulkan || context->cuda)) {
      // Weights go to the device once; every kernel call then binds them instead of copying them.
      std::vector<const std::vector<float> *> weights = {&model->embedding, &model->finalNorm, &model->finalNormBias,
                                                         &model->gpuLmHead, &model->gpuLmHeadBias,
                                                         &model->positionTable};
      for (size_t l = 0; l < model->layers.size(); ++l) {
        const LayerWeights &w = model->layers[l];
        const GpuLayerWeights &g = model->gpuLayers[l];
        for (const std::vector<float> *v :
             {&w.inputNorm, &w.postAttnNorm, &w.preFfnNorm, &w.postFfnNorm, &w.qNorm, &w.kNorm, &w.sinks, &g.qkv, &g.o,
              &g.gateUp, &g.down, &g.qkvBias, &g.oBias, &g.gateUpBias, &g.downBias, &w.inputNormBias,
              &w.postAttnNormBias, &w.preFfnNormBias, &w.postFfnNormBias, &w.selectionBias, &w.mohRouted,
              &w.mohShared, &w.mohHead, &w.alphaMa, &g.alphaProj, &g.qA, &g.qABias, &g.qB, &g.kvA, &g.kvABias,
              &g.kvB, &w.qANorm, &w.kvANorm})
          weights.push_back(v);
      }
      for (const GpuLayerWeights &g : model->gpuLayers) {
        weights.push_back(&g.router);
        weights.push_back(&g.routerBias);
        for (const std::vector<float> *v :
             {&g.gateUpStack, &g.downStack, &g.gateUpBiasStack, &g.downBiasStack, &g.sharedGateUp, &g.sharedDown,
              &g.sharedGate})
          weights.push_back(v);
      }
      for (const std::vector<float> *v : weights) {
        if (v->empty())
          continue;
        size_t bytes = v->size() * sizeof(float);
        if (llvm::Error err = context->pin(v->data(), bytes))
          return failure("xfrt_session_create: cannot keep the weights on " + context->device + ": " +
                         llvm::toString(std::move(err)));
        session->pinned.push_back(v->data());
      }
    }
    for (const LayerPlan &lp : model->plan.layers) {
      LayerCache &c = session->caches.emplace_back();
      // The cache holds what the layer's kernel reads: its key operand's element type.
      const KernelInfo &kernel = model->module->info.kernels[lp.kernelIndex];
      const OperandInfo *key = kernel.findOperand("key"), *value = kernel.findOperand("value");
      if (!key || !value || key->dtype != value->dtype)
        return failure("xfrt_session_create: kernel '" + kernel.name + "' must take key and value of one element type");
      c.dtype = key->dtype;
      c.kvHeads = lp.kvHeads;
      c.headDim = lp.headDim;
      c.headDimV = lp.headDimV;
      c.window = lp.window;
      c.sinkTokens = lp.sinkTokens;
    }
    *out = session.release();
    return nullptr;
  });
}

void xfrt_session_free(xfrt_session *session) { delete session; }
int64_t xfrt_session_position(const xfrt_session *session) { return session ? session->position : 0; }

xfrt_status xfrt_session_set_prefill_chunk(xfrt_session *session, int64_t tokens) {
  if (!session)
    return failure("xfrt_session_set_prefill_chunk: NULL session");
  if (tokens < 0)
    return failure(llvm::formatv("xfrt_session_set_prefill_chunk: {0} tokens; pass a positive count, or 0 for "
                                 "one forward",
                                 tokens));
  session->prefillChunk = tokens;
  return nullptr;
}

int64_t xfrt_session_prefill_chunk(const xfrt_session *session) { return session ? session->prefillChunk : 0; }

void xfrt_session_reset(xfrt_session *session) {
  if (!session)
    return;
  session->position = 0;
  for (LayerCache &c : session->caches)
    c.count = c.synced = 0;
}

xfrt_status xfrt_session_run(xfrt_session *session, const int32_t *tokens, int64_t numTokens, float *logits) {
  return guarded("xfrt_session_run", [&]() -> xfrt_status {
    if (!session || (!tokens && numTokens > 0))
      return failure("xfrt_session_run: NULL argument");
    if (numTokens <= 0)
      return failure("xfrt_session_run: num_tokens must be positive");
    const Plan &p = session->model->plan;
    if (session->position + numTokens > session->maxTokens)
      return failure(llvm::formatv("context limit: {0} tokens so far plus {1} new would pass the session's "
                                   "limit of {2} tokens",
                                   session->position, numTokens, session->maxTokens));
    for (int64_t t = 0; t < numTokens; ++t)
      if (tokens[t] < 0 || tokens[t] >= p.vocab)
        return failure(llvm::formatv("token {0} (at index {1}) is outside the vocabulary [0, {2})", tokens[t], t,
                                     p.vocab));
    // A failure midway leaves caches half-written: start over rather than continue from a wrong state.
    try {
      const int64_t chunk = session->prefillChunk > 0 ? session->prefillChunk : numTokens;
      for (int64_t start = 0; start < numTokens; start += chunk) {
        const int64_t n = std::min(chunk, numTokens - start);
        float *out = start + n == numTokens ? logits : nullptr; // only the last token's logits are asked for
        if (session->model->gpu)
          forwardGpu(*session, tokens + start, n, out);
        else
          forward(*session, tokens + start, n, out);
      }
    } catch (...) {
      xfrt_session_reset(session);
      throw;
    }
    return nullptr;
  });
}

} // extern "C"
