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
