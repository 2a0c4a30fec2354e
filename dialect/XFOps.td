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

    The optional `score` region receives `(z, b, h, i, j)` (`z` of the element type, the rest `index`)
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
    Rotates `input` ([B, H, S, D]) at `positions` ([S], i64) with the rotate-half pairing `(i, i + d/2)`
    of Hugging Face over the first `rotary_dim` dims (the rest pass through):
    `inv_freq[i] = base^(-2i/rotary_dim)`, angle `= position * inv_freq[i]` (after `scaling`, VARIANTS.md
    §5). `base = 0.0` means "auto": `xf-phase-bounded-rope` must choose it before lowering.

    ```mlir
    %r = xf.rope %q, %pos {base = 500000.0 : f64, rotary_dim = 128} : tensor<1x32x?x128xf32>, tensor<?xi64> -> tensor<1x32x?x128xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$positions, F64Attr:$base, I64Attr:$rotary_dim,
                       DefaultValuedAttr<StrAttr, "\"none\"">:$scaling);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` type($input) `,` type($positions) `->` type($result)";
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
