// RUN: xf-opt %s --xf-lower-attention="vector-width=8 block-q=16 block-k=16 key-regs=4 value-regs=2" --canonicalize --cse --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not xf-opt %s --xf-lower-attention="vector-width=8 block-q=12" --split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS

// OPTIONS: block-q (12) must be a multiple of vector-width (8)

// One work item per (batch, head, 16-row query block), as a parallel loop; per-item scratch is a
// transposed query block, a 16x16 probability tile and a [Dv][16] accumulator: no S x T buffer.
// CHECK-LABEL: func.func @causal_window
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x4x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[V:[a-z0-9]+]]: memref<?x2x?x32xf32>, %[[O:[a-z0-9]+]]: memref<?x4x?x32xf32>)
// CHECK-SAME: xf.attention_info = {alpha_activation = "none", block_q = 16 : i64, causal = true, head_dim = 64 : i64, head_dim_v = 32 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 1.250000e-01 : f64, sink_tokens = 0 : i64, window = 16 : i64}
// CHECK-SAME: xf.operand_names = ["query", "key", "value", "output"]
// CHECK-NOT: xf.attention
// CHECK-DAG: %[[B:.+]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.+]] = memref.dim %[[Q]], %c2
// CHECK-DAG: %[[T:.+]] = memref.dim %[[K]], %c2
// CHECK: %[[NQ:.+]] = arith.ceildivui %[[S]], %c16
// CHECK: scf.parallel (%[[W:.+]]) = (%c0) to (%{{.+}}) step (%c1)
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x16xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<16x16xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<32x16xf32>
// GQA: kv head = head / 2.
// CHECK-DAG: arith.divui %{{.+}}, %c2 : index
// The query block is scaled while it is packed.
// CHECK: arith.mulf %{{.+}}, %cst{{.*}} : f32
// The visible key range: window start max(0, p0 - 15), causal end min(T, last + 1).
// CHECK: %[[LO:.+]] = arith.maxsi %{{.+}}, %c0 : index
// CHECK: %[[HI:.+]] = arith.minsi %[[T]], %{{.+}} : index
// Online softmax state m (2 vectors) and l (2 vectors) is carried by the key loop.
// CHECK: scf.for %{{.+}} = %[[LO]] to %[[HI]] step %c16 iter_args(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// Scores: 4 keys x 2 query vectors in registers over the head dim.
// CHECK: scf.for %{{.+}} = %c0 to %c64 step %c1 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: memref.load %[[K]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// Only blocks that are not entirely visible are masked.
// CHECK: scf.if
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
// CHECK: arith.select %{{.+}}, %{{.+}}, %cst{{.*}} : vector<8xi1>, vector<8xf32>
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.exp
// P V into the accumulator, rescaled by alpha as it is loaded.
// CHECK: scf.for %{{.+}} = %c0 to %c32 step %c2
// CHECK: arith.mulf %{{.+}} : vector<8xf32>
// CHECK: memref.load %[[V]]
// CHECK: vector.fma
// Epilogue: rows that saw no key are zero.
// CHECK: arith.cmpf ogt
// CHECK: arith.divf
// CHECK: memref.store %{{.+}}, %[[O]]
func.func @causal_window(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x32xf32>, %o: memref<?x4x?x32xf32>) {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x32xf32>) outs(%o : memref<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 16}
  return
}

// -----

// Without causal or window every key block is visited and only the ragged last one is masked.
// CHECK-LABEL: func.func @full
// CHECK-NOT: arith.maxsi
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c16 iter_args
// CHECK: scf.if
// CHECK-NOT: arith.cmpi sle
// CHECK: arith.select
func.func @full(%q: memref<1x2x8x16xf32>, %k: memref<1x2x40x16xf32>, %v: memref<1x2x40x16xf32>, %o: memref<1x2x8x16xf32>) {
  xf.attention ins(%q, %k, %v : memref<1x2x8x16xf32>, memref<1x2x40x16xf32>, memref<1x2x40x16xf32>) outs(%o : memref<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64}
  return
}

// -----

// Modifier regions are inlined, vectorized along query rows (their elementwise ops take vectors of the
// rows' positions and scores). The mask region runs first, per key of a block, into a mask tile; a block
// it hides from every row is skipped (the key loop's state passes through unchanged). Then the score
// region runs on the scores of a visited block and the tile masks them.
// CHECK-LABEL: func.func @regions
// CHECK: scf.for {{.+}} iter_args
// CHECK: %[[ANY:.+]] = scf.for {{.+}} iter_args({{.+}}) -> (i1)
// CHECK: arith.cmpi eq, %{{.+}}, %{{.+}} : vector<8xindex>
// CHECK: arith.select %{{.+}}, %{{.+}}, %{{.+}} : vector<8xi1>, vector<8xf32>
// CHECK: vector.reduction <or>
// CHECK: scf.if %[[ANY]] -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.fma
// CHECK: math.tanh %{{.+}} : vector<8xf32>
// CHECK: arith.cmpf one
// CHECK: } else {
// CHECK-NEXT: scf.yield
func.func @regions(%q: memref<1x2x8x16xf32>, %k: memref<1x2x40x16xf32>, %v: memref<1x2x40x16xf32>, %o: memref<1x2x8x16xf32>) {
  xf.attention ins(%q, %k, %v : memref<1x2x8x16xf32>, memref<1x2x40x16xf32>, memref<1x2x40x16xf32>) outs(%o : memref<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64}
  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %z : f32
    xf.yield %t : f32
  } mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c8 = arith.constant 8 : index
    %ci = arith.divui %i, %c8 : index
    %cj = arith.divui %j, %c8 : index
    %keep = arith.cmpi eq, %ci, %cj : index
    xf.yield %keep : i1
  }
  return
}

// -----

func.func @tensors(%q: tensor<1x2x8x16xf32>, %o: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  // expected-error @+1 {{must be bufferized before xf-lower-attention (run one-shot-bufferize)}}
  %r = xf.attention ins(%q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) outs(%o : tensor<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64} -> tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}
