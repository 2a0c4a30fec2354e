// RUN: xf-opt %s --xf-apply-spec-variants --split-input-file --verify-diagnostics | FileCheck %s

// The variants recorded by the frontend are applied with the same rewrites as their passes.
// CHECK-LABEL: func.func @gpt_oss_like
// CHECK-SAME: %{{.+}}: tensor<8xf32>, %{{.+}}: tensor<1x8x?x16xf32>)
// CHECK-NOT: xf.variants
// CHECK: xf.attention ins({{.+}}) sinks(%{{.+}} : tensor<8xf32>) outs(
// CHECK-SAME: head_gains = array<f64: 1.000000e+00, 2.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00>
// CHECK-SAME: sink_tokens = 4 : i64, window = 256 : i64
func.func @gpt_oss_like(%q: tensor<1x8x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>, %o: tensor<1x8x?x16xf32>) -> tensor<1x8x?x16xf32>
    attributes {xf.kernel, xf.variants = [{mode = "learned", name = "sinks"}, {name = "head_modulation", heads = array<i64: 1>, gain = 2.0 : f64, emphasis = 0.0 : f64},
                                           {name = "sinks", mode = "streaming", tokens = 4 : i64, window = 256 : i64}]} {
  %r = xf.attention ins(%q, %k, %v : tensor<1x8x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) outs(%o : tensor<1x8x?x16xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.25 : f64, causal = true} -> tensor<1x8x?x16xf32>
  return %r : tensor<1x8x?x16xf32>
}

// -----

// rope base = auto: the pass picks the geometric middle of the feasible interval and records it.
// CHECK-LABEL: func.func @auto_base
// CHECK-SAME: xf.model = {hidden = 64 : i64, layers = 32 : i64, max_position = 8192 : i64, rope_base = 463518.58{{[0-9]+}} : f64, rotary_dim = 128 : i64}
func.func @auto_base(%q: tensor<1x4x?x128xf32>, %o: tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32>
    attributes {xf.kernel, xf.model = {hidden = 64 : i64, layers = 32 : i64, max_position = 8192 : i64, rope_base = 0.0 : f64, rotary_dim = 128 : i64},
                xf.variants = [{name = "phase_bounded_rope", eps = 0.1 : f64, angle_dtype = "f32", severity = "error"}]} {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>) outs(%o : tensor<1x4x?x128xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true} -> tensor<1x4x?x128xf32>
  return %r : tensor<1x4x?x128xf32>
}

// -----

// A model whose base is too small for its context and depth.
// expected-error @+1 {{RoPE base 10000 fails for context 131072, depth 32 (eps 0.1, 23-bit angles): aliasing: the slowest dimension wraps within the context (needs base > 24428); DC stability: positions drift apart by more than eps through the layers (needs base >= 428230); feasible bases: [428230, 8388608)}}
func.func @small_base(%q: tensor<1x4x?x128xf32>, %o: tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32>
    attributes {xf.kernel, xf.model = {hidden = 64 : i64, layers = 32 : i64, max_position = 131072 : i64, rope_base = 10000.0 : f64, rotary_dim = 128 : i64},
                xf.variants = [{name = "phase_bounded_rope", eps = 0.1 : f64, angle_dtype = "f32", severity = "error"}]} {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>) outs(%o : tensor<1x4x?x128xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true} -> tensor<1x4x?x128xf32>
  return %r : tensor<1x4x?x128xf32>
}

// -----

func.func @calibration_auto(%q: tensor<1x4x?x16xf32>, %o: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32>
    attributes {xf.kernel, xf.variants = [{name = "sinks", mode = "calibrated", beta = 0.4 : f64, threshold = 0.1 : f64, heads = "all", columns = "auto"}]} {
  // expected-error @+1 {{sinks mode = calibrated with columns = auto: find the sink columns over a prefill with `xf-run calibrate --q q.npy --k k.npy --tau T` and list them}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) outs(%o : tensor<1x4x?x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true} -> tensor<1x4x?x16xf32>
  return %r : tensor<1x4x?x16xf32>
}

// -----

// Emphasis on the last query row only: the score region takes the key count t and tests i == t - 1.
// CHECK-LABEL: func.func @emphasis_last_row
// CHECK: score {
// CHECK: ^bb0(%{{.+}}: f32, %{{.+}}: index, %{{.+}}: index, %[[I:.+]]: index, %[[J:.+]]: index, %[[T:.+]]: index):
// CHECK: %[[LAST:.+]] = arith.subi %[[T]], %c1
// CHECK: arith.cmpi eq, %[[I]], %[[LAST]]
func.func @emphasis_last_row(%q: tensor<1x4x?x16xf32>, %o: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32>
    attributes {xf.kernel, xf.variants = [{name = "head_modulation", heads = "all", gain = 1.0 : f64, emphasis = 0.7 : f64, keys = array<i64: 0>, rows = "last"}]} {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) outs(%o : tensor<1x4x?x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true} -> tensor<1x4x?x16xf32>
  return %r : tensor<1x4x?x16xf32>
}

// -----

// The base chosen for `base = auto` also goes into the RoPE of the model functions that call the kernel.
// CHECK-LABEL: func.func @auto_base_kernel
// CHECK-LABEL: func.func @prefill
// CHECK: xf.rope %{{.+}}, %{{.+}} {base = 463518.58{{[0-9]+}} : f64, rotary_dim = 128 : i64}
// CHECK: call @auto_base_kernel
func.func @auto_base_kernel(%q: tensor<1x4x?x128xf32>, %o: tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32>
    attributes {xf.kernel, xf.model = {hidden = 64 : i64, layers = 32 : i64, max_position = 8192 : i64, rope_base = 0.0 : f64, rotary_dim = 128 : i64},
                xf.variants = [{name = "phase_bounded_rope", eps = 0.1 : f64, angle_dtype = "f32", severity = "error"}]} {
  %r = xf.attention ins(%q, %q, %q : tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>) outs(%o : tensor<1x4x?x128xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true} -> tensor<1x4x?x128xf32>
  return %r : tensor<1x4x?x128xf32>
}
func.func @prefill(%q: tensor<1x4x?x128xf32>, %pos: tensor<?xi64>, %o: tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32> attributes {xf.entry = "prefill"} {
  %r = xf.rope %q, %pos {base = 0.0 : f64, rotary_dim = 128} : tensor<1x4x?x128xf32>, tensor<?xi64> -> tensor<1x4x?x128xf32>
  %a = call @auto_base_kernel(%r, %o) {xf.layer = 0 : i64} : (tensor<1x4x?x128xf32>, tensor<1x4x?x128xf32>) -> tensor<1x4x?x128xf32>
  return %a : tensor<1x4x?x128xf32>
}
