// RUN: xf-opt %s --xf-mixture-of-heads="shared-heads=2 top-k=3 hidden=64" | FileCheck %s
// RUN: not xf-opt %s --xf-mixture-of-heads="shared-heads=2 top-k=7 hidden=64" 2>&1 | FileCheck %s --check-prefix=TOPK
// RUN: not xf-opt %s --xf-mixture-of-heads="shared-heads=2 top-k=3" 2>&1 | FileCheck %s --check-prefix=HIDDEN

// The attention takes per-token gates [B, H, S] before its output; a router kernel computes them from
// the attention input.
// CHECK-LABEL: func.func @attn
// CHECK-SAME: (%[[Q:.+]]: tensor<1x8x?x32xf32>, %{{.+}}: tensor<1x2x?x32xf32>, %{{.+}}: tensor<1x2x?x32xf32>, %[[G:.+]]: tensor<1x8x?xf32>, %[[O:.+]]: tensor<1x8x?x32xf32>)
// CHECK: xf.attention ins({{.+}}) gates(%[[G]] : tensor<1x8x?xf32>) outs(%[[O]] : tensor<1x8x?x32xf32>)
// CHECK-LABEL: func.func @attn_router
// CHECK-SAME: (%[[X:.+]]: tensor<1x?x64xf32>, %[[WR:.+]]: tensor<6x64xf32>, %[[WS:.+]]: tensor<2x64xf32>, %[[WH:.+]]: tensor<2x64xf32>, %[[GO:.+]]: tensor<1x8x?xf32>) -> tensor<1x8x?xf32>
// CHECK-SAME: attributes {xf.kernel}
// CHECK: xf.moh_router ins(%[[X]], %[[WR]], %[[WS]], %[[WH]] : {{.+}}) outs(%[[GO]] : tensor<1x8x?xf32>) {shared_heads = 2 : i64, top_k = 3 : i64}
// TOPK: top-k (7) must be in [1, 6 routed heads]
// HIDDEN: needs the router's input size: pass hidden=N
func.func @attn(%q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>, %o: tensor<1x8x?x32xf32>) -> tensor<1x8x?x32xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>) outs(%o : tensor<1x8x?x32xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.17677669529663687 : f64, causal = true} -> tensor<1x8x?x32xf32>
  return %r : tensor<1x8x?x32xf32>
}

// A kernel called by a model function: the call first runs the router kernel on the layer's attention
// input, [tokens, hidden] split into [batch, seq, hidden], with three new f32 weights of the caller.
// CHECK-LABEL: func.func @layer_attn
// CHECK-SAME: %{{.+}}: tensor<1x8x?xf32>, %{{.+}}: tensor<1x8x?x32xf32>)
// CHECK-LABEL: func.func @layer_attn_router
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: %[[WR:[^:]+]]: tensor<6x64xf32> {xf.weight = "model.layers.1.self_attn.moh_router.w_routed"}, %[[WS:[^:]+]]: tensor<2x64xf32> {xf.weight = "model.layers.1.self_attn.moh_router.w_shared"}, %[[WH:[^:]+]]: tensor<2x64xf32> {xf.weight = "model.layers.1.self_attn.moh_router.w_head"}, %{{.+}}: tensor<1x2x128x32xf32> {xf.kv_cache
// CHECK: %[[X:.+]] = xf.rms_norm {{.+}}xf.attention_input = 1 : i64
// CHECK: %[[X3:.+]] = tensor.expand_shape %[[X]] {{\[\[}}0, 1], [2]]
// CHECK: %[[XC:.+]] = tensor.cast %[[X3]] : tensor<?x?x64xf32> to tensor<1x?x64xf32>
// CHECK: %[[G:.+]] = call @layer_attn_router(%[[XC]], %[[WR]], %[[WS]], %[[WH]], %{{.+}}) {xf.layer = 1 : i64}
// CHECK: call @layer_attn(%{{.+}}, %{{.+}}, %{{.+}}, %[[G]], %{{.+}}) {xf.layer = 1 : i64}
func.func @layer_attn(%q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>, %o: tensor<1x8x?x32xf32>) -> tensor<1x8x?x32xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>) outs(%o : tensor<1x8x?x32xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.17677669529663687 : f64, causal = true} -> tensor<1x8x?x32xf32>
  return %r : tensor<1x8x?x32xf32>
}
func.func @prefill(%h: tensor<?x64xf32>, %w: tensor<64xf32> {xf.weight = "model.layers.1.input_layernorm.weight"},
                   %q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>,
                   %cache: tensor<1x2x128x32xf32> {xf.kv_cache = {kind = "key", layer = 1 : i64, policy = "full"}}) -> tensor<1x8x?x32xf32>
    attributes {xf.entry = "prefill", xf.model = {dtype = f32, name = "m"}} {
  %x = xf.rms_norm %h, %w {eps = 1.0e-05 : f64, xf.attention_input = 1 : i64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<1x8x?x32xf32>
  %o = tensor.empty(%s) : tensor<1x8x?x32xf32>
  %r = call @layer_attn(%q, %k, %v, %o) {xf.layer = 1 : i64} : (tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x8x?x32xf32>) -> tensor<1x8x?x32xf32>
  return %r : tensor<1x8x?x32xf32>
}
