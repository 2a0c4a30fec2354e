//===- XFOps.td - xf dialect operations ---------------------*- tablegen -*-===//
#ifndef XF_OPS_TD
#define XF_OPS_TD

include "dialect/XFDialect.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def XF_AttentionOp : XF_Op<"attention", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    AttrSizedOperandSegments,
    DestinationStyleOpInterface,
    IsolatedFromAbove]> {
  let summary = "Scaled dot-product attention with optional score and mask modifiers";
  let description = [{
    Computes, for every batch `b`, query head `h`, query row `r` and key `j`:

    ```
    z[b,h,r,j] = scale * dot(query[b,h,r,:], key[b,h/(H/Hkv),j,:])
    O[b,h,r,:] = sum_j softmax_j(score(z, b, h, i, j) masked by visible(b, h, i, j)) * value[b,h/(H/Hkv),j,:]
    ```

    Layouts are `[batch, heads, seq, head_dim]`: `query` is `[B, H, S, D]`, `key` `[B, Hkv, T, D]`,
    `value` `[B, Hkv, T, Dv]` and `output` `[B, H, S, Dv]`. `H` must equal `num_heads`, `Hkv` must equal
    `num_kv_heads` and divide `H` (query head `h` reads kv head `h / (H / Hkv)`: MHA, GQA and MQA are one op).
    Head dims are static.

    The queries are the newest `S` of the `T` tokens: query row `r` sits at position `i = T - S + r`.
    A key `j` is visible iff every enabled rule keeps it:
    - `causal`: `j <= i`;
    - `window = W > 0`: `j > i - W` (W keys including the query's own position);
    - the `mask` region, if present: it receives `(b, h, i, j)` as `index` values and yields an `i1`.

    Element types: all four operands share one float type, or each is f32, bf16 or f16 (e.g. a bf16 KV
    cache with f32 queries). With any 16-bit operand the op computes in f32: 16-bit elements are widened
    as they are loaded and the output rounded to its type once, at the end. This is the compute type;
    variant operands (`sinks`, `gates`, `alpha`, `alpha_ma`) and the score region's `z` have it.

    The optional `score` region receives `(z, b, h, i, j)` (`z` of the compute type, the rest `index`)
    and yields the modified score; it runs before masking and before the softmax, like FlexAttention's
    `score_mod`. Both regions may take one more `index` argument, `t`, the number of keys T (so a
    modifier can single out the last query row, `i == t - 1`). Both regions are isolated from above and
    may only hold side-effect-free ops.

    A query row that sees no key at all produces zeros.

    Variants (VARIANTS.md) enter as optional operands and attributes, so they stack:
    - `sinks(%s : [H])`: learned per-head sink logits (gpt-oss). The sink adds `exp(s[h])` to every
      row's softmax denominator (not multiplied by `scale`) and contributes no value.
    - `sink_tokens = k` with `window = W`: StreamingLLM. Keys `j < k` stay visible (subject to `causal`)
      besides the window. Together with `window` this is the KV-cache policy the runtime reads:
      `window = 0` full cache, `window > 0` sliding window, `sink_tokens > 0` streaming sinks.
    - `gates(%g : [H] or [B, H, S])`: head gates applied to each head's output (mixture-of-heads router
      gates are `[B, H, S]`). With per-token gates, each work item gathers the rows of its head whose gate
      is non-zero, so inactive (token, head) pairs are skipped, not computed and multiplied by zero.
    - `head_gains = array<f64: ...>` ([H]): constant per-head output gains (head modulation); they
      multiply the gates, and a head with gain 0 is skipped.
    - `affine(%alpha : [B, H, S], %alpha_ma : [H])`: affine-scaled attention,
      `O[i] = alpha_i * softmax_i V + (alpha_ma - alpha_i) * mean_{visible j} V[j]`, where
      `alpha_i = phi(%alpha[b, h, i])` and `alpha_activation` names phi: `none` (the operand is alpha),
      `linear_clip` (`clamp(0.1 x + 0.5, 0, 1)`) or `sigmoid`.
    - `calibrated_keys = array<i64: ...>`, `calibrated_heads = array<i64: ...>`, `calibration_beta`: ACT
      sink calibration. On the listed heads the softmax mass of the key columns `S` is scaled by beta
      and the rest renormalized: `P'[i,j] = beta P[i,j]` for `j` in `S`, else
      `P[i,j] (1 - beta S_i) / (1 - S_i)`. The kernel keeps split accumulators for `S` and the rest.

    The op is in destination-passing style: on tensors it returns a tensor of the type of `output`; on
    memrefs it writes `output` and returns nothing. One-shot bufferization turns the first into the second.

    Example (GQA, causal, 128-token window, softcap 30):

    ```mlir
    %o = xf.attention ins(%q, %k, %v : tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>)
           outs(%init : tensor<1x32x?x128xf32>)
           {num_heads = 32, num_kv_heads = 8, scale = 0.08838834764831845 : f64, causal = true, window = 128}
           score {
           ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
             %c = arith.constant 30.0 : f32
             %t = arith.divf %z, %c : f32
             %th = math.tanh %t : f32
             %s = arith.mulf %th, %c : f32
             xf.yield %s : f32
           } -> tensor<1x32x?x128xf32>
    ```
  }];

  let arguments = (ins
    AnyShaped:$query,
    AnyShaped:$key,
    AnyShaped:$value,
    AnyShaped:$output,
    Optional<AnyShaped>:$sinks,
    Optional<AnyShaped>:$gates,
    Optional<AnyShaped>:$alpha,
    Optional<AnyShaped>:$alpha_ma,
    I64Attr:$num_heads,
    I64Attr:$num_kv_heads,
    F64Attr:$scale,
    DefaultValuedAttr<BoolAttr, "false">:$causal,
    DefaultValuedAttr<I64Attr, "0">:$window,
    DefaultValuedAttr<I64Attr, "0">:$sink_tokens,
    DefaultValuedAttr<StrAttr, "\"none\"">:$alpha_activation,
    OptionalAttr<DenseI64ArrayAttr>:$calibrated_keys,
    OptionalAttr<DenseI64ArrayAttr>:$calibrated_heads,
    DefaultValuedAttr<F64Attr, "0.4">:$calibration_beta,
    OptionalAttr<DenseF64ArrayAttr>:$head_gains
  );
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let regions = (region AnyRegion:$score, AnyRegion:$mask);

  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    (`sinks` `(` $sinks^ `:` type($sinks) `)`)?
    (`gates` `(` $gates^ `:` type($gates) `)`)?
    (`affine` `(` $alpha^ `,` $alpha_ma `:` type($alpha) `,` type($alpha_ma) `)`)?
    `outs` `(` $output `:` type($output) `)`
    attr-dict
    (`score` $score^)?
    (`mask` $mask^)?
    (`->` type($result)^)?
  }];

  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "Value":$query, "Value":$key, "Value":$value, "Value":$output,
                   "int64_t":$numHeads, "int64_t":$numKvHeads, "double":$scale,
                   "bool":$causal, "int64_t":$window)>
  ];

  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
    ::llvm::LogicalResult verifyVariantOperands(bool tensors, Type elementType);
    /// The type scores, softmax statistics and accumulators are computed in: f32 when any operand is
    /// bf16 or f16, else the operands' element type.
    Type getComputeType();
    bool hasTensorSemantics() { return getNumResults() == 1; }
    bool hasScoreModifier() { return !getScore().empty(); }
    bool hasMaskModifier() { return !getMask().empty(); }
    ShapedType getQueryType() { return ::llvm::cast<ShapedType>(getQuery().getType()); }
    ShapedType getKeyType() { return ::llvm::cast<ShapedType>(getKey().getType()); }
    ShapedType getValueType() { return ::llvm::cast<ShapedType>(getValue().getType()); }
    ShapedType getOutputType() { return ::llvm::cast<ShapedType>(getOutput().getType()); }
    int64_t getHeadDim() { return getQueryType().getDimSize(3); }
    int64_t getValueHeadDim() { return getValueType().getDimSize(3); }
    bool hasAffineScale() { return static_cast<bool>(getAlpha()); }
    /// Composes a score modifier after the existing one (if any): `modifier` receives the score the
    /// current region yields (or the raw score) and the (b, h, i, j) block arguments, and returns the new
    /// score. This is how variant passes, in tree or in plugins, stack score modifiers.
    /// `withKeyCount` gives the region (and `modifier`, as a fifth value after b, h, i, j) the key count t.
    void composeScore(::llvm::function_ref<Value(OpBuilder &, Location, Value z, ValueRange bhij)> modifier,
                      bool withKeyCount = false);
  }];

  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def XF_MoHRouterOp : XF_Op<"moh_router", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Mixture-of-head attention router: per-token head gates";
  let description = [{
    Computes, for every token `x = input[b, s, :]` (the attention input, `C` features), the gates of
    mixture-of-head attention (VARIANTS.md §3). Heads `[0, hs)` are shared, heads `[hs, H)` routed:

    ```
    g_r  = softmax(w_routed x)                                  over the H - hs routed heads
    M    = top_k(g_r)                                           (ties: the lower head wins)
    g~_r = top_k * (g_r * M) / max(sum(g_r * M), eps)
    g_s  = hs * softmax(w_shared x)
    [a1, a2] = 2 * softmax(w_head x)
    gates[b, :, s] = [a1 * g_s, a2 * g~_r]
    ```

    `input` is `[B, S, C]`, `w_routed` `[H - hs, C]`, `w_shared` `[hs, C]`, `w_head` `[2, C]`, `output`
    `[B, H, S]` (the layout `xf.attention`'s `gates` takes). Destination-passing style like
    `xf.attention`.

    ```mlir
    %g = xf.moh_router ins(%x, %wr, %ws, %wh : tensor<1x?x512xf32>, tensor<6x512xf32>, tensor<2x512xf32>, tensor<2x512xf32>)
           outs(%init : tensor<1x8x?xf32>) {shared_heads = 2, top_k = 3} -> tensor<1x8x?xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$w_routed, AnyShaped:$w_shared, AnyShaped:$w_head,
                       AnyShaped:$output, I64Attr:$shared_heads, I64Attr:$top_k,
                       DefaultValuedAttr<F64Attr, "1.0e-6">:$eps);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    `ins` `(` $input `,` $w_routed `,` $w_shared `,` $w_head `:` type($input) `,` type($w_routed) `,`
      type($w_shared) `,` type($w_head) `)`
    `outs` `(` $output `:` type($output) `)` attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
    bool hasTensorSemantics() { return getNumResults() == 1; }
  }];
  let hasVerifier = 1;
}

def XF_RopeOp : XF_Op<"rope", [Pure]> {
  let summary = "Rotary position embedding of queries or keys";
  let description = [{
    Rotates `input` ([B, H, S, D]) at `positions` ([S], i64, shared by the batch) over its first
    `rotary_dim` dims; the other `D - rotary_dim` dims pass through. Pairs are rotate-half `(i, i + r/2)`
    as in Hugging Face, or `(2i, 2i + 1)` with `interleaved`. With `r = rotary_dim`:

    ```
    inv_freq[i] = base^(-2i/r),  i < r/2          (then rescaled by `scaling`, below)
    angle       = position * inv_freq[i]
    out         = x * cos(angle) * attention_factor + rotate(x) * sin(angle) * attention_factor
    ```

    The op carries the parameters of the rotation, not a table of frequencies: `base = 0.0` means
    "auto" (`xf-phase-bounded-rope` or `xf-apply-spec-variants` choose it before lowering), and the
    `dynamic` and `longrope` rules depend on the sequence length at run time. `scaling` (VARIANTS.md §5,
    HF `rope_scaling`) and the parameters each kind reads:
    - `none`;
    - `linear`: `inv_freq / factor`;
    - `dynamic` (NTK): past `original_max_position` positions L, `base * ((factor L / original) -
      (factor - 1))^(r / (r - 2))`;
    - `yarn`: `factor`, `original_max_position`, `beta_fast`, `beta_slow`, `truncate`: a ramp between
      `inv_freq` and `inv_freq / factor` over the dims;
    - `llama3`: `factor`, `original_max_position`, `low_freq_factor`, `high_freq_factor`;
    - `longrope`: `short_factor` / `long_factor` (r/2 divisors each; long once the sequence exceeds
      `original_max_position`).
    `attention_factor` (yarn's `0.1 ln(factor) + 1`, longrope's `sqrt(1 + ln(factor) / ln(original))`,
    or the model's own value) is resolved by the frontend and multiplies cos and sin.

    ```mlir
    %r = xf.rope %q, %pos {base = 500000.0 : f64, rotary_dim = 128, scaling = "llama3", factor = 8.0 : f64,
                           original_max_position = 8192, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64}
           : tensor<1x32x?x128xf32>, tensor<?xi64> -> tensor<1x32x?x128xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$positions, F64Attr:$base, I64Attr:$rotary_dim,
                       DefaultValuedAttr<StrAttr, "\"none\"">:$scaling,
                       DefaultValuedAttr<BoolAttr, "false">:$interleaved,
                       DefaultValuedAttr<F64Attr, "1.0">:$factor,
                       DefaultValuedAttr<I64Attr, "0">:$original_max_position,
                       DefaultValuedAttr<F64Attr, "1.0">:$low_freq_factor,
                       DefaultValuedAttr<F64Attr, "4.0">:$high_freq_factor,
                       DefaultValuedAttr<F64Attr, "32.0">:$beta_fast,
                       DefaultValuedAttr<F64Attr, "1.0">:$beta_slow,
                       DefaultValuedAttr<BoolAttr, "true">:$truncate,
                       DefaultValuedAttr<F64Attr, "1.0">:$attention_factor,
                       OptionalAttr<DenseF64ArrayAttr>:$short_factor,
                       OptionalAttr<DenseF64ArrayAttr>:$long_factor);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` type($input) `,` type($positions) `->` type($result)";
  let hasVerifier = 1;
}

def XF_EmbedOp : XF_Op<"embed", [Pure]> {
  let summary = "Token embedding: rows of a table, times a scale";
  let description = [{
    `result[..., :] = scale * table[ids[...], :]`, widened to the result's element type. `table` is
    `[vocab, hidden]` (HF `model.embed_tokens.weight`), `ids` any integer tensor; the result has the shape
    of `ids` followed by `hidden`. `scale` is the model's embedding multiplier (Gemma:
    `sqrt(hidden)` rounded to the weights' dtype); ids outside `[0, vocab)` are the caller's error (the
    runtime checks token ids before running).

    ```mlir
    %h = xf.embed %table[%ids] {scale = 59.75 : f64} : tensor<256000x3584xbf16>, tensor<?xi32> -> tensor<?x3584xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$table, AnyRankedTensor:$ids, DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)";
  let hasVerifier = 1;
}

def XF_RmsNormOp : XF_Op<"rms_norm", [Pure]> {
  let summary = "RMS normalization over the last dimension, times a weight";
  let description = [{
    `result = x / sqrt(mean(x^2) + eps) * w` over the last dimension of `input`, with `w = weight`, or
    `w = 1 + weight` when `unit_offset` is set (Gemma stores the weight minus one). `weight` has one entry
    per element of the last dimension, or is `[heads, head_dim]` over an input `[..., heads, head_dim]` (each
    head its own gains), and is widened to the input's element type. The same op serves the layer norms
    (`[tokens, hidden]`) and Qwen3's per-head q/k norms (`[B, S, heads, head_dim]`).

    ```mlir
    %y = xf.rms_norm %x, %w {eps = 1.0e-06 : f64, unit_offset = true} : tensor<?x3584xf32>, tensor<3584xbf16> -> tensor<?x3584xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight, F64Attr:$eps,
                       DefaultValuedAttr<BoolAttr, "false">:$unit_offset);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)";
  let hasVerifier = 1;
}

def XF_LayerNormOp : XF_Op<"layer_norm", [Pure]> {
  let summary = "Layer normalization over the last dimension, times a weight, plus a bias";
  let description = [{
    `result = (x - mean(x)) / sqrt(var(x) + eps) * w + bias` over the last dimension of `input` (biased
    variance, as `torch.nn.LayerNorm`), with `w = weight`, or `1 + weight` with `unit_offset`. `weight`
    and the optional `bias` have one entry per element of the last dimension, or are `[heads, head_dim]`
    over an input `[..., heads, head_dim]` (Cohere's and StableLM 2's per-head q/k norms: each head its own
    gains).

    ```mlir
    %y = xf.layer_norm %x, %w, %b {eps = 1.0e-05 : f64} : tensor<?x512xf32>, tensor<512xf16>, tensor<512xf16> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight, Optional<AnyRankedTensor>:$bias,
                       F64Attr:$eps, DefaultValuedAttr<BoolAttr, "false">:$unit_offset);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def XF_MoEOp : XF_Op<"moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "Mixture of experts: top-k routing and the selected experts' MLPs";
  let description = [{
    For every token `t` (`input` is `[tokens, hidden]`, `router_logits` `[tokens, experts]`, computed
    by the model from its router weights), picks the `top_k` experts with the largest logits (ties: the
    lower expert), weighs them by the softmax of those `top_k` logits (gpt-oss; for Mixtral this equals
    its softmax over all experts renormalized over the chosen ones) and sums their MLPs. With
    `norm_top_k = false` the weights are the softmax over all experts, not renormalized (Qwen3-MoE's
    `norm_topk_prob = false`), so they sum to less than 1.

    Scored routing: the scores `s[t, e]` are the softmax over all experts, or with `router = "sigmoid"`
    (GLM-4.5, DeepSeek-V3) each logit's sigmoid. Experts are chosen by `c[t, e] = s[t, e] +
    selection_bias[e]` (the bias, `[experts]` or `[1, experts]`, only chooses); with `groups = G > 1` the
    experts form G equal groups, each scored by the sum of its two largest `c`, and the experts outside the
    `top_groups` best groups (ties: the lower group) choose with `c = 0`. The `top_k` largest `c` (ties: the
    lower expert) are weighed by their `s`, under `norm_top_k` divided by `max(sum(s) + eps, norm_min)` (eps
    1e-20 for sigmoid scores, 0 for softmax ones), times `routed_scale`.

    `router = "sparsemixer"` (Phi-3.5-MoE, `top_k = 2`): the first choice is the largest logit `m`, weighed
    by the softmax over the experts whose logits `l` are not excluded by `(m - l) / max(|l|, m) > 2 *
    jitter_eps`; the second is the largest of the others, weighed the same way among them with its own `m`:

    ```
    result[t] = sum_{e in topk(t)} w[t, e] * (down[e]^T h_e(t) + down_bias[e])
    h_e(t)    = act(gate[e]^T x + gate_bias[e]) * (up[e]^T x + up_bias[e])     (gated)
              = act(up[e]^T x + up_bias[e])                                    (no gate)
    ```

    Expert weights are stacked `[experts, in, out]`: `gate` and `up` are `[E, hidden, intermediate]`,
    `down` `[E, intermediate, hidden]` (the layout of gpt-oss's fused expert tensors; the model adapts
    other layouts with `tensor`/`linalg` ops on the weights), biases `[E, intermediate]` and
    `[E, hidden]`. Weights are widened to the input's element type. `activation` is `silu`, `gelu`,
    `gelu_tanh` or `relu`; `limit` selects gpt-oss's clamped SwiGLU instead: `g = min(gate, limit)`,
    `u = clamp(up, -limit, limit)`, `h = g * sigmoid(alpha g) * (u + 1)`. Only the chosen experts are
    computed: this is why MoE is an op and not a dense contraction multiplied by a sparse mask.

    ```mlir
    %y = xf.moe %x, %logits : tensor<?x2880xf32>, tensor<?x32xf32>
           gate(%g : tensor<32x2880x2880xbf16>) up(%u : tensor<32x2880x2880xbf16>) down(%d : tensor<32x2880x2880xbf16>)
           gate_bias(%gb : tensor<32x2880xbf16>) up_bias(%ub : tensor<32x2880xbf16>) down_bias(%db : tensor<32x2880xbf16>)
           {top_k = 4, activation = "silu", limit = 7.0 : f64, alpha = 1.702 : f64} -> tensor<?x2880xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$router_logits, Optional<AnyRankedTensor>:$gate,
                       AnyRankedTensor:$up, AnyRankedTensor:$down, Optional<AnyRankedTensor>:$gate_bias,
                       Optional<AnyRankedTensor>:$up_bias, Optional<AnyRankedTensor>:$down_bias,
                       Optional<AnyRankedTensor>:$selection_bias,
                       I64Attr:$top_k, DefaultValuedAttr<StrAttr, "\"silu\"">:$activation,
                       OptionalAttr<F64Attr>:$limit, DefaultValuedAttr<F64Attr, "1.702">:$alpha,
                       DefaultValuedAttr<BoolAttr, "true">:$norm_top_k,
                       DefaultValuedAttr<StrAttr, "\"softmax\"">:$router,
                       DefaultValuedAttr<I64Attr, "1">:$groups, DefaultValuedAttr<I64Attr, "1">:$top_groups,
                       DefaultValuedAttr<F64Attr, "1.0">:$routed_scale,
                       DefaultValuedAttr<F64Attr, "0.0">:$norm_min,
                       DefaultValuedAttr<F64Attr, "0.01">:$jitter_eps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $router_logits `:` type($input) `,` type($router_logits)
    (`gate` `(` $gate^ `:` type($gate) `)`)?
    `up` `(` $up `:` type($up) `)`
    `down` `(` $down `:` type($down) `)`
    (`gate_bias` `(` $gate_bias^ `:` type($gate_bias) `)`)?
    (`up_bias` `(` $up_bias^ `:` type($up_bias) `)`)?
    (`down_bias` `(` $down_bias^ `:` type($down_bias) `)`)?
    (`selection_bias` `(` $selection_bias^ `:` type($selection_bias) `)`)?
    attr-dict `->` type($result)
  }];
  let hasVerifier = 1;
}

def XF_YieldOp : XF_Op<"yield", [Pure, Terminator, ReturnLike, ParentOneOf<["AttentionOp"]>]> {
  let summary = "Yields the value of an xf modifier region";
  let description = [{
    Terminates the `score` region (yielding the modified score) and the `mask` region (yielding an `i1`
    that is true when the key is visible) of `xf.attention`.

    ```mlir
    xf.yield %keep : i1
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // XF_OPS_TD
