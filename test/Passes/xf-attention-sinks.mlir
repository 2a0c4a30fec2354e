// RUN: xf-opt %s --xf-attention-sinks=mode=learned --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=LEARNED
// RUN: xf-opt %s --xf-attention-sinks="mode=streaming sink-tokens=4 window=1020" --split-input-file | FileCheck %s --check-prefix=STREAM
// RUN: not xf-opt %s --xf-attention-sinks=mode=magic 2>&1 | FileCheck %s --check-prefix=MODE

// The sink logits become a kernel argument just before the output, which stays last.
// LEARNED-LABEL: func.func @attn
// LEARNED-SAME: (%[[Q:.+]]: tensor<1x8x?x64xf32>, %[[K:.+]]: tensor<1x2x?x64xf32>, %[[V:.+]]: tensor<1x2x?x64xf32>, %[[S:.+]]: tensor<8xf32>, %[[O:.+]]: tensor<1x8x?x64xf32>)
// LEARNED: xf.attention ins(%[[Q]], %[[K]], %[[V]] : {{.+}}) sinks(%[[S]] : tensor<8xf32>) outs(%[[O]] : tensor<1x8x?x64xf32>)

// STREAM-LABEL: func.func @attn
// STREAM-SAME: (%{{.+}}: tensor<1x8x?x64xf32>, %{{.+}}: tensor<1x2x?x64xf32>, %{{.+}}: tensor<1x2x?x64xf32>, %{{.+}}: tensor<1x8x?x64xf32>)
// STREAM: xf.attention
// STREAM-SAME: sink_tokens = 4 : i64, window = 1020 : i64

// MODE: xf-attention-sinks: unknown mode 'magic' (expected learned, streaming or calibrated)
func.func @attn(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %o: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> {
  %r = xf.attention ins(%q, %k, %v : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>) outs(%o : tensor<1x8x?x64xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.125 : f64, causal = true} -> tensor<1x8x?x64xf32>
  return %r : tensor<1x8x?x64xf32>
}

// -----

func.func @not_a_kernel(%q: tensor<1x8x4x64xf32>, %k: tensor<1x2x4x64xf32>) -> tensor<1x8x4x64xf32> {
  %o = tensor.empty() : tensor<1x8x4x64xf32>
  // expected-error @+1 {{xf-attention-sinks adds the variant's data as a kernel argument, so the attention's output must be an argument of its function}}
  %r = xf.attention ins(%q, %k, %k : tensor<1x8x4x64xf32>, tensor<1x2x4x64xf32>, tensor<1x2x4x64xf32>) outs(%o : tensor<1x8x4x64xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.125 : f64, window = 2} -> tensor<1x8x4x64xf32>
  return %r : tensor<1x8x4x64xf32>
}

// RUN: xf-opt %s --xf-attention-sinks="mode=calibrated keys=2,1 heads=3,0 beta=0.25" --split-input-file | FileCheck %s --check-prefix=ACT
// RUN: not xf-opt %s --xf-attention-sinks="mode=calibrated keys=0 heads=1" --split-input-file 2>&1 | FileCheck %s --check-prefix=FIRST
// ACT-LABEL: func.func @attn
// ACT: xf.attention
// ACT-SAME: calibrated_heads = array<i64: 0, 3>, calibrated_keys = array<i64: 1, 2>, calibration_beta = 2.500000e-01 : f64
// FIRST: calibrated key 0 must be >= 1: the first token is never calibrated

// -----

// A kernel called by a model function: the call passes the layer's sink logits, a new weight of the
// caller (in the model's dtype, before its caches), widened to the kernel's f32.
// LEARNED-LABEL: func.func @layer_attn
// LEARNED-SAME: %{{.+}}: tensor<8xf32>, %{{.+}}: tensor<1x8x?x64xf32>)
// LEARNED-LABEL: func.func @prefill
// LEARNED-SAME: %[[SINKS:[^:]+]]: tensor<8xbf16> {xf.weight = "model.layers.3.self_attn.sinks"}, %{{.+}}: tensor<1x2x16x64xf32> {xf.kv_cache
// LEARNED: %[[WIDE:.+]] = linalg.generic {{.+}} ins(%[[SINKS]] : tensor<8xbf16>)
// LEARNED: arith.extf
// LEARNED: call @layer_attn(%{{.+}}, %{{.+}}, %{{.+}}, %[[WIDE]], %{{.+}}) {xf.layer = 3 : i64}
// Streaming sinks change the layer's cache policy, which the model function states on its caches.
// STREAM-LABEL: func.func @prefill
// STREAM-SAME: {xf.kv_cache = {kind = "key", layer = 3 : i64, policy = "streaming", sink_tokens = 4 : i64, window = 1020 : i64}}
func.func @layer_attn(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %o: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>) outs(%o : tensor<1x8x?x64xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.125 : f64, causal = true} -> tensor<1x8x?x64xf32>
  return %r : tensor<1x8x?x64xf32>
}
func.func @prefill(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                   %cache: tensor<1x2x16x64xf32> {xf.kv_cache = {kind = "key", layer = 3 : i64, policy = "full"}}) -> tensor<1x8x?x64xf32>
    attributes {xf.entry = "prefill", xf.model = {dtype = bf16, name = "m"}} {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<1x8x?x64xf32>
  %o = tensor.empty(%s) : tensor<1x8x?x64xf32>
  %r = call @layer_attn(%q, %k, %v, %o) {xf.layer = 3 : i64} : (tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32>
  return %r : tensor<1x8x?x64xf32>
}

// -----

// Only a model function's calls (xf.entry, xf.layer) can supply a new kernel operand.
func.func @called_kernel(%q: tensor<1x8x?x64xf32>, %o: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %q, %q : tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) outs(%o : tensor<1x8x?x64xf32>) {num_heads = 8, num_kv_heads = 8, scale = 0.125 : f64} -> tensor<1x8x?x64xf32>
  return %r : tensor<1x8x?x64xf32>
}
func.func @some_caller(%q: tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32> {
  // expected-error @+1 {{xf-attention-sinks adds an operand to @called_kernel, which only calls from @prefill/@decode (xf.entry, xf.layer) can supply}}
  %r = call @called_kernel(%q, %q) : (tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32>
  return %r : tensor<1x8x?x64xf32>
}
