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
