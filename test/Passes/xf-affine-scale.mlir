// RUN: xf-opt %s --xf-affine-scale | FileCheck %s
// RUN: xf-opt %s --xf-affine-scale=activation=sigmoid | FileCheck %s --check-prefix=SIGMOID
// RUN: not xf-opt %s --xf-affine-scale=activation=relu 2>&1 | FileCheck %s --check-prefix=BAD

// alpha ([B, H, S], the pre-activation W_a X) and alpha_ma ([H]) become kernel arguments before the output.
// CHECK-LABEL: func.func @attn
// CHECK-SAME: (%{{.+}}: tensor<2x4x?x16xf32>, %{{.+}}: tensor<2x4x?x16xf32>, %[[A:.+]]: tensor<2x4x?xf32>, %[[AMA:.+]]: tensor<4xf32>, %[[O:.+]]: tensor<2x4x?x16xf32>)
// CHECK: xf.attention ins({{.+}}) affine(%[[A]], %[[AMA]] : tensor<2x4x?xf32>, tensor<4xf32>) outs(%[[O]] : tensor<2x4x?x16xf32>) {alpha_activation = "linear_clip"
// SIGMOID: alpha_activation = "sigmoid"
// BAD: xf-affine-scale: unknown activation 'relu' (expected linear_clip, sigmoid or none)
func.func @attn(%q: tensor<2x4x?x16xf32>, %kv: tensor<2x4x?x16xf32>, %o: tensor<2x4x?x16xf32>) -> tensor<2x4x?x16xf32> {
  %r = xf.attention ins(%q, %kv, %kv : tensor<2x4x?x16xf32>, tensor<2x4x?x16xf32>, tensor<2x4x?x16xf32>) outs(%o : tensor<2x4x?x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true}
  -> tensor<2x4x?x16xf32>
  return %r : tensor<2x4x?x16xf32>
}

// A kernel called by a model function: the call computes alpha = W_a x from the layer's attention input
// (the op marked xf.attention_input) and passes the frozen alpha_ma, both new weights of the caller.
// CHECK-LABEL: func.func @layer_attn
// CHECK-SAME: %{{.+}}: tensor<?x4x?xf32>, %{{.+}}: tensor<4xf32>, %{{.+}}: tensor<?x4x?x16xf32>)
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[WA:[^:]+]]: tensor<4x32xf16> {xf.weight = "model.layers.0.self_attn.alpha_proj.weight"}, %[[AMA:[^:]+]]: tensor<4xf16> {xf.weight = "model.layers.0.self_attn.alpha_ma"}, %{{.+}}: tensor<?x4x64x16xf32> {xf.kv_cache
// CHECK: %[[X:.+]] = xf.rms_norm {{.+}}xf.attention_input = 0 : i64
// CHECK: ins(%[[WA]] : tensor<4x32xf16>)
// CHECK: %[[PROJ:.+]] = linalg.matmul indexing_maps = [#{{.+}}, #{{.+}}, #{{.+}}] ins(%[[X]], %{{.+}} : tensor<?x32xf32>, tensor<4x32xf32>)
// CHECK: %[[SPLIT:.+]] = tensor.expand_shape %[[PROJ]]
// CHECK: %[[ALPHA:.+]] = linalg.transpose ins(%[[SPLIT]] : tensor<?x?x4xf32>) outs(%{{.+}} : tensor<?x4x?xf32>) permutation = [0, 2, 1]
// CHECK: ins(%[[AMA]] : tensor<4xf16>)
// CHECK: call @layer_attn(%{{.+}}, %{{.+}}, %[[ALPHA]], %{{.+}}, %{{.+}}) {xf.layer = 0 : i64}
func.func @layer_attn(%q: tensor<?x4x?x16xf32>, %kv: tensor<?x4x?x16xf32>, %o: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %kv, %kv : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) outs(%o : tensor<?x4x?x16xf32>) {num_heads = 4, num_kv_heads = 4, scale = 0.25 : f64, causal = true}
  -> tensor<?x4x?x16xf32>
  return %r : tensor<?x4x?x16xf32>
}
func.func @decode(%h: tensor<?x32xf32>, %w: tensor<32xf16> {xf.weight = "model.layers.0.input_layernorm.weight"},
                  %q: tensor<?x4x1x16xf32>, %kv: tensor<?x4x?x16xf32>,
                  %cache: tensor<?x4x64x16xf32> {xf.kv_cache = {kind = "key", layer = 0 : i64, policy = "full"}}) -> tensor<?x4x?x16xf32>
    attributes {xf.entry = "decode", xf.model = {dtype = f16, name = "m"}} {
  %x = xf.rms_norm %h, %w {eps = 1.0e-05 : f64, xf.attention_input = 0 : i64} : tensor<?x32xf32>, tensor<32xf16> -> tensor<?x32xf32>
  %c0 = arith.constant 0 : index
  %b = tensor.dim %q, %c0 : tensor<?x4x1x16xf32>
  %o = tensor.empty(%b) : tensor<?x4x1x16xf32>
  %qc = tensor.cast %q : tensor<?x4x1x16xf32> to tensor<?x4x?x16xf32>
  %oc = tensor.cast %o : tensor<?x4x1x16xf32> to tensor<?x4x?x16xf32>
  %r = call @layer_attn(%qc, %kv, %oc) {xf.layer = 0 : i64} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %r : tensor<?x4x?x16xf32>
}
