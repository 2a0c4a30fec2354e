// RUN: xf-opt %s | xf-opt | FileCheck %s
// RUN: xf-opt %s --mlir-print-op-generic | xf-opt | FileCheck %s

// CHECK-LABEL: func.func @gqa_causal_window
// CHECK-SAME: (%[[Q:.+]]: tensor<1x32x?x128xf32>, %[[K:.+]]: tensor<1x8x?x128xf32>, %[[V:.+]]: tensor<1x8x?x128xf32>, %[[O:.+]]: tensor<1x32x?x128xf32>)
// CHECK: %[[R:.+]] = xf.attention ins(%[[Q]], %[[K]], %[[V]] : tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>) outs(%[[O]] : tensor<1x32x?x128xf32>)
// CHECK-SAME: causal = true, num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.088388347648318433 : f64, window = 128 : i64
// CHECK-SAME: -> tensor<1x32x?x128xf32>
// CHECK: return %[[R]]
func.func @gqa_causal_window(%q: tensor<1x32x?x128xf32>, %k: tensor<1x8x?x128xf32>, %v: tensor<1x8x?x128xf32>, %o: tensor<1x32x?x128xf32>) -> tensor<1x32x?x128xf32> {
  %r = xf.attention ins(%q, %k, %v : tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>) outs(%o : tensor<1x32x?x128xf32>) {num_heads = 32, num_kv_heads = 8, scale = 0.088388347648318433 : f64, causal = true, window = 128} -> tensor<1x32x?x128xf32>
  return %r : tensor<1x32x?x128xf32>
}

// CHECK-LABEL: func.func @mqa_memref_defaults
// CHECK: xf.attention ins(%{{.+}}, %{{.+}}, %{{.+}} : memref<2x4x16x64xf32>, memref<2x1x32x64xf32>, memref<2x1x32x80xf32>) outs(%{{.+}} : memref<2x4x16x80xf32>) {num_heads = 4 : i64, num_kv_heads = 1 : i64, scale = 1.250000e-01 : f64}
// CHECK-NOT: ->
// CHECK: return
func.func @mqa_memref_defaults(%q: memref<2x4x16x64xf32>, %k: memref<2x1x32x64xf32>, %v: memref<2x1x32x80xf32>, %o: memref<2x4x16x80xf32>) {
  xf.attention ins(%q, %k, %v : memref<2x4x16x64xf32>, memref<2x1x32x64xf32>, memref<2x1x32x80xf32>) outs(%o : memref<2x4x16x80xf32>) {num_heads = 4, num_kv_heads = 1, scale = 0.125 : f64}
  return
}

// CHECK-LABEL: func.func @modifiers
// CHECK: xf.attention
// CHECK: score {
// CHECK: ^bb0(%[[Z:.+]]: f32, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index):
// CHECK:   %[[T:.+]] = math.tanh %[[Z]] : f32
// CHECK:   xf.yield %[[T]] : f32
// CHECK: } mask {
// CHECK: ^bb0(%{{.+}}: index, %{{.+}}: index, %[[I:.+]]: index, %[[J:.+]]: index):
// CHECK:   %[[KEEP:.+]] = arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK:   xf.yield %[[KEEP]] : i1
// CHECK: } -> tensor<1x2x8x16xf32>
func.func @modifiers(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %o: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %r = xf.attention ins(%q, %k, %v : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) outs(%o : tensor<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %z : f32
    xf.yield %t : f32
  } mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %keep = arith.cmpi sle, %j, %i : index
    xf.yield %keep : i1
  } -> tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}

// CHECK-LABEL: func.func @variants
// CHECK: xf.attention ins(%{{.+}}, %{{.+}}, %{{.+}} : {{.+}}) sinks(%{{.+}} : tensor<4xf32>) gates(%{{.+}} : tensor<1x4x8xf32>) affine(%{{.+}}, %{{.+}} : tensor<1x4x8xf32>, tensor<4xf32>) outs(%{{.+}} : tensor<1x4x8x16xf32>)
// CHECK-SAME: alpha_activation = "linear_clip"
// CHECK-SAME: sink_tokens = 2 : i64, window = 4 : i64
func.func @variants(%q: tensor<1x4x8x16xf32>, %s: tensor<4xf32>, %g: tensor<1x4x8xf32>, %a: tensor<1x4x8xf32>, %ama: tensor<4xf32>, %o: tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>) sinks(%s : tensor<4xf32>) gates(%g : tensor<1x4x8xf32>) affine(%a, %ama : tensor<1x4x8xf32>, tensor<4xf32>) outs(%o : tensor<1x4x8x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true, window = 4, sink_tokens = 2, alpha_activation = "linear_clip"} -> tensor<1x4x8x16xf32>
  return %r : tensor<1x4x8x16xf32>
}

// Modifier regions may also take the key count t.
// CHECK-LABEL: func.func @key_count
// CHECK: score {
// CHECK: ^bb0(%{{.+}}: f32, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index):
// CHECK: } mask {
// CHECK: ^bb0(%{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index):
func.func @key_count(%q: tensor<1x2x8x16xf32>, %o: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %r = xf.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) outs(%o : tensor<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index, %t: index):
    xf.yield %z : f32
  } mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index, %t: index):
    %c4 = arith.constant 4 : index
    %lo = arith.subi %t, %c4 : index
    %keep = arith.cmpi sge, %j, %lo : index
    xf.yield %keep : i1
  } -> tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}

// The ops of whole-model functions.
// CHECK-LABEL: func.func @model_ops
// CHECK-SAME: (%[[TABLE:.+]]: tensor<1000x64xbf16>, %[[IDS:.+]]: tensor<?xi32>, %[[W:.+]]: tensor<64xbf16>, %[[B:.+]]: tensor<64xbf16>, %[[L:.+]]: tensor<?x4xf32>, %[[G:.+]]: tensor<4x64x32xbf16>, %[[U:.+]]: tensor<4x64x32xbf16>, %[[D:.+]]: tensor<4x32x64xbf16>, %[[GB:.+]]: tensor<4x32xbf16>, %[[DB:.+]]: tensor<4x64xbf16>, %[[Q:.+]]: tensor<?x8x?x64xf32>, %[[POS:.+]]: tensor<?xi64>)
// CHECK: %[[H:.+]] = xf.embed %[[TABLE]][%[[IDS]]] {scale = 8.000000e+00 : f64} : tensor<1000x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK: %[[N:.+]] = xf.rms_norm %[[H]], %[[W]] {eps = 9.9999999999999995E-7 : f64, unit_offset = true} : tensor<?x64xf32>, tensor<64xbf16> -> tensor<?x64xf32>
// CHECK: %[[LN:.+]] = xf.layer_norm %[[N]], %[[W]], %[[B]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xbf16>, tensor<64xbf16> -> tensor<?x64xf32>
// CHECK: %[[LN2:.+]] = xf.layer_norm %[[LN]], %[[W]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xbf16> -> tensor<?x64xf32>
// CHECK: %[[M:.+]] = xf.moe %[[LN2]], %[[L]] : tensor<?x64xf32>, tensor<?x4xf32> gate(%[[G]] : tensor<4x64x32xbf16>) up(%[[U]] : tensor<4x64x32xbf16>) down(%[[D]] : tensor<4x32x64xbf16>) gate_bias(%[[GB]] : tensor<4x32xbf16>) down_bias(%[[DB]] : tensor<4x64xbf16>) {limit = 7.000000e+00 : f64, top_k = 2 : i64} -> tensor<?x64xf32>
// CHECK: %[[M2:.+]] = xf.moe %[[M]], %[[L]] : tensor<?x64xf32>, tensor<?x4xf32> up(%[[U]] : tensor<4x64x32xbf16>) down(%[[D]] : tensor<4x32x64xbf16>) {activation = "gelu", top_k = 1 : i64} -> tensor<?x64xf32>
// CHECK: %[[R:.+]] = xf.rope %[[Q]], %[[POS]] {attention_factor = 1.3465735902799727 : f64, base = 1.500000e+05 : f64, factor = 3.200000e+01 : f64, original_max_position = 4096 : i64, rotary_dim = 64 : i64, scaling = "yarn", truncate = false} : tensor<?x8x?x64xf32>, tensor<?xi64> -> tensor<?x8x?x64xf32>
// CHECK: %[[R2:.+]] = xf.rope %[[Q]], %[[POS]] {base = 1.000000e+04 : f64, factor = 4.000000e+00 : f64, interleaved = true, long_factor = array<f64: 2.000000e+00, 3.000000e+00>, original_max_position = 4096 : i64, rotary_dim = 4 : i64, scaling = "longrope", short_factor = array<f64: 1.000000e+00, 1.500000e+00>}
// CHECK: return %[[M2]], %[[R]], %[[R2]]
func.func @model_ops(%table: tensor<1000x64xbf16>, %ids: tensor<?xi32>, %w: tensor<64xbf16>, %b: tensor<64xbf16>,
                     %logits: tensor<?x4xf32>, %g: tensor<4x64x32xbf16>, %u: tensor<4x64x32xbf16>, %d: tensor<4x32x64xbf16>,
                     %gb: tensor<4x32xbf16>, %db: tensor<4x64xbf16>, %q: tensor<?x8x?x64xf32>, %pos: tensor<?xi64>)
    -> (tensor<?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>) {
  %h = xf.embed %table[%ids] {scale = 8.0 : f64} : tensor<1000x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %n = xf.rms_norm %h, %w {eps = 1.0e-06 : f64, unit_offset = true} : tensor<?x64xf32>, tensor<64xbf16> -> tensor<?x64xf32>
  %l = xf.layer_norm %n, %w, %b {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xbf16>, tensor<64xbf16> -> tensor<?x64xf32>
  %l2 = xf.layer_norm %l, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xbf16> -> tensor<?x64xf32>
  %m = xf.moe %l2, %logits : tensor<?x64xf32>, tensor<?x4xf32> gate(%g : tensor<4x64x32xbf16>) up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) gate_bias(%gb : tensor<4x32xbf16>) down_bias(%db : tensor<4x64xbf16>) {top_k = 2, limit = 7.0 : f64} -> tensor<?x64xf32>
  %m2 = xf.moe %m, %logits : tensor<?x64xf32>, tensor<?x4xf32> up(%u : tensor<4x64x32xbf16>) down(%d : tensor<4x32x64xbf16>) {top_k = 1, activation = "gelu"} -> tensor<?x64xf32>
  %r = xf.rope %q, %pos {base = 150000.0 : f64, rotary_dim = 64, scaling = "yarn", factor = 32.0 : f64, original_max_position = 4096, truncate = false, attention_factor = 1.3465735902799727 : f64} : tensor<?x8x?x64xf32>, tensor<?xi64> -> tensor<?x8x?x64xf32>
  %r2 = xf.rope %q, %pos {base = 10000.0 : f64, rotary_dim = 4, interleaved = true, scaling = "longrope", factor = 4.0 : f64, original_max_position = 4096, short_factor = array<f64: 1.0, 1.5>, long_factor = array<f64: 2.0, 3.0>} : tensor<?x8x?x64xf32>, tensor<?xi64> -> tensor<?x8x?x64xf32>
  return %m2, %r, %r2 : tensor<?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
}

// Per-head q/k norms: each head its own gains, [heads, head_dim] over [batch, seq, heads, head_dim].
// CHECK-LABEL: func.func @head_gains
// CHECK: xf.layer_norm %{{.+}}, %{{.+}} {eps = 1.000000e-05 : f64} : tensor<?x?x8x64xf32>, tensor<8x64xbf16> -> tensor<?x?x8x64xf32>
// CHECK: xf.rms_norm %{{.+}}, %{{.+}} {eps = 9.9999999999999995E-7 : f64} : tensor<?x?x8x64xf32>, tensor<8x64xf32> -> tensor<?x?x8x64xf32>
func.func @head_gains(%q: tensor<?x?x8x64xf32>, %g: tensor<8x64xbf16>, %r: tensor<8x64xf32>) -> tensor<?x?x8x64xf32> {
  %l = xf.layer_norm %q, %g {eps = 1.0e-05 : f64} : tensor<?x?x8x64xf32>, tensor<8x64xbf16> -> tensor<?x?x8x64xf32>
  %n = xf.rms_norm %l, %r {eps = 1.0e-06 : f64} : tensor<?x?x8x64xf32>, tensor<8x64xf32> -> tensor<?x?x8x64xf32>
  return %n : tensor<?x?x8x64xf32>
}

// A sigmoid router with a selection bias and a group limit (GLM-4.5, DeepSeek-V3).
// CHECK-LABEL: func.func @moe_sigmoid
// CHECK: xf.moe %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<?x8xf32> gate(%{{.+}} : tensor<8x64x32xbf16>) up(%{{.+}} : tensor<8x64x32xbf16>) down(%{{.+}} : tensor<8x32x64xbf16>) selection_bias(%{{.+}} : tensor<8xf32>) {groups = 4 : i64, routed_scale = 2.500000e+00 : f64, router = "sigmoid", top_groups = 2 : i64, top_k = 3 : i64} -> tensor<?x64xf32>
func.func @moe_sigmoid(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>, %g: tensor<8x64x32xbf16>, %u: tensor<8x64x32xbf16>, %d: tensor<8x32x64xbf16>, %c: tensor<8xf32>) -> tensor<?x64xf32> {
  %m = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x8xf32> gate(%g : tensor<8x64x32xbf16>) up(%u : tensor<8x64x32xbf16>) down(%d : tensor<8x32x64xbf16>) selection_bias(%c : tensor<8xf32>) {top_k = 3, router = "sigmoid", groups = 4, top_groups = 2, routed_scale = 2.5 : f64} -> tensor<?x64xf32>
  return %m : tensor<?x64xf32>
}

// A softmax router with ERNIE 4.5's [1, experts] selection bias and a floor under the weights' sum.
// CHECK-LABEL: func.func @moe_softmax_bias
// CHECK: selection_bias(%{{.+}} : tensor<1x8xf32>) {norm_min = 9.9999999999999998E-13 : f64, top_k = 3 : i64}
func.func @moe_softmax_bias(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>, %g: tensor<8x64x32xbf16>, %u: tensor<8x64x32xbf16>, %d: tensor<8x32x64xbf16>, %c: tensor<1x8xf32>) -> tensor<?x64xf32> {
  %m = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x8xf32> gate(%g : tensor<8x64x32xbf16>) up(%u : tensor<8x64x32xbf16>) down(%d : tensor<8x32x64xbf16>) selection_bias(%c : tensor<1x8xf32>) {top_k = 3, norm_min = 1.0e-12 : f64} -> tensor<?x64xf32>
  return %m : tensor<?x64xf32>
}

// Phi-3.5-MoE's sparsemixer router.
// CHECK-LABEL: func.func @moe_sparsemixer
// CHECK: {jitter_eps = 1.000000e-01 : f64, router = "sparsemixer", top_k = 2 : i64}
func.func @moe_sparsemixer(%x: tensor<?x64xf32>, %l: tensor<?x8xf32>, %g: tensor<8x64x32xbf16>, %u: tensor<8x64x32xbf16>, %d: tensor<8x32x64xbf16>) -> tensor<?x64xf32> {
  %m = xf.moe %x, %l : tensor<?x64xf32>, tensor<?x8xf32> gate(%g : tensor<8x64x32xbf16>) up(%u : tensor<8x64x32xbf16>) down(%d : tensor<8x32x64xbf16>) {top_k = 2, router = "sparsemixer", jitter_eps = 0.1 : f64} -> tensor<?x64xf32>
  return %m : tensor<?x64xf32>
}
