// RUN: xf-opt %s --xf-attention-sinks=mode=learned --xf-head-modulation="heads=1 gain=2.0" \
// RUN:   --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" \
// RUN:   --xf-lower-attention="vector-width=8 block-q=8 block-k=16 key-regs=4 value-regs=4" --canonicalize --cse | FileCheck %s

// Learned sinks + sliding window + softcap + head gains stack on one xf.attention and lower to a single
// fused loop nest: one parallel loop over work items, one key loop, no second pass over the keys.
// CHECK-LABEL: func.func @stacked
// CHECK-SAME: %[[SINKS:[a-z0-9]+]]: memref<4xf32>
// CHECK-NOT: xf.attention ins
// CHECK: scf.parallel
// The head's gain is picked once per work item from the constant gains, and a zero gain skips the item.
// CHECK: vector.extract %{{.+}}[%{{.+}}] : f32 from vector<4xf32>
// CHECK: arith.cmpf une
// CHECK: scf.if
// The key range is the window's.
// CHECK: arith.maxsi
// The sink seeds the running max.
// CHECK: %[[S:.+]] = memref.load %[[SINKS]]
// CHECK: vector.broadcast %[[S]]
// CHECK: scf.for {{.+}} iter_args
// CHECK: vector.fma
// Softcap, inlined per score.
// CHECK: math.tanh
// Window masking on partial blocks.
// CHECK: arith.cmpi sgt
// CHECK: math.exp
// Epilogue: divide by l, times the gain.
// CHECK: arith.divf
// CHECK: arith.mulf
// CHECK-NOT: scf.parallel
func.func @stacked(%q: tensor<1x4x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>, %o: tensor<1x4x?x32xf32>) -> tensor<1x4x?x32xf32> {
  %r = xf.attention ins(%q, %k, %v : tensor<1x4x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>) outs(%o : tensor<1x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.17677669529663687 : f64, causal = true, window = 128}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 30.0 : f32
    %t = arith.divf %z, %c : f32
    %th = math.tanh %t : f32
    %s = arith.mulf %th, %c : f32
    xf.yield %s : f32
  } -> tensor<1x4x?x32xf32>
  return %r : tensor<1x4x?x32xf32>
}
