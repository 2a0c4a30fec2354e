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
