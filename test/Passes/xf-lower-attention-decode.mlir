// The decode form of xf-lower-attention (decode-form=true, as the CPU pipeline sets it): a second loop
// nest in the same scf.parallel, taken at run time when S <= decode-rows.
// RUN: xf-opt %s --xf-lower-attention="vector-width=8 block-q=16 block-k=16 key-regs=4 value-regs=2 decode-form=true decode-block-k=16" --canonicalize --cse --split-input-file | FileCheck %s
// Without the option (other targets) the kernel has the block form only.
// RUN: xf-opt %s --xf-lower-attention="vector-width=8 block-q=16 block-k=16 key-regs=4 value-regs=2" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=BLOCK
// RUN: not xf-opt %s --xf-lower-attention="vector-width=8 block-q=16 decode-form=true decode-block-k=12" --split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not xf-opt %s --xf-lower-attention="decode-form=true decode-rows=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADROWS

// OPTIONS: decode-block-k (12) must be a positive multiple of vector-width (8)
// BADROWS: decode-rows must be positive

// BLOCK-LABEL: func.func @causal_window
// BLOCK-NOT: arith.cmpi ule
// BLOCK-NOT: vector.reduction <add>
// BLOCK: scf.parallel

// S <= 8 takes the decode form with B * Hkv work items, else the block form with B * H * ceil(S / 16).
// Both forms' scratch sits at the top of the work item; the decode form's holds group (2) x 8 rows.
// CHECK-LABEL: func.func @causal_window
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x4x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[V:[a-z0-9]+]]: memref<?x2x?x32xf32>, %[[O:[a-z0-9]+]]: memref<?x4x?x32xf32>)
// CHECK-DAG: %[[B:.+]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.+]] = memref.dim %[[Q]], %c2
// CHECK-DAG: %[[T:.+]] = memref.dim %[[K]], %c2
// CHECK: %[[NQ:.+]] = arith.ceildivui %[[S]], %c16
// CHECK: %[[BLOCKQ:.+]] = arith.muli %[[NQ]], %c4
// CHECK: %[[BLOCKITEMS:.+]] = arith.muli %[[B]], %[[BLOCKQ]]
// CHECK: %[[DECODE:.+]] = arith.cmpi ule, %[[S]], %c8
// CHECK: %[[DECODEITEMS:.+]] = arith.muli %[[B]], %c2
// CHECK: %[[ITEMS:.+]] = arith.select %[[DECODE]], %[[DECODEITEMS]], %[[BLOCKITEMS]]
// CHECK: scf.parallel (%[[W:.+]]) = (%c0) to (%[[ITEMS]]) step (%c1)
// CHECK-DAG: %[[QROWS:.+]] = memref.alloca() {alignment = 64 : i64} : memref<16x64xf32>
// CHECK-DAG: %[[ACC:.+]] = memref.alloca() {alignment = 64 : i64} : memref<16x32xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<16xf32>
// CHECK-DAG: memref.alloca() {alignment = 64 : i64} : memref<64x16xf32>
// CHECK: scf.if %[[DECODE]] {
// The work item is (batch, kv head); its rows are the group's 2 heads x S query rows, packed and scaled.
// CHECK: %[[BATCH:.+]] = arith.divui %[[W]], %c2
// CHECK: %[[KVH:.+]] = arith.remui %[[W]], %c2
// CHECK: %[[ROWS:.+]] = arith.muli %[[S]], %c2
// CHECK: scf.for %{{.+}} = %c0 to %[[ROWS]] step %c1
// CHECK: vector.load %[[Q]]{{.+}} : memref<?x4x?x64xf32>, vector<8xf32>
// CHECK: arith.mulf %{{.+}} : vector<8xf32>
// The window leaves keys from T - S - 15 on; each key block is walked once, for the rows in tuples of 4,
// then at most one pair and one single row.
// CHECK: %[[LO:.+]] = arith.maxsi %{{.+}}, %c0 : index
// CHECK: scf.for %[[J0:.+]] = %[[LO]] to %[[T]] step %c16 {
// CHECK: %[[QUARTER:.+]] = arith.divui %[[ROWS]], %c4
// CHECK: %[[QUADS:.+]] = arith.muli %[[QUARTER]], %c4
// CHECK: scf.for %[[N:.+]] = %c0 to %[[QUADS]] step %c4 {
// Scores: head_dim on the lanes, 8 keys at a time, their horizontal sums transposed into one vector by
// shuffles (no reduction per key). The item's first tuple (N = 0) prefetches the next block's K and V rows
// into L2, spread over its 4 rows' score loops: row 0 takes keys j0 + 16 + [0, 4), one at every 4th score.
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %[[N]], %c0
// CHECK: scf.for %[[G:.+]] = %c0 to %c16 step %c8 {
// CHECK: scf.if %[[FIRST]] {
// CHECK: %[[QUARTER:.+]] = arith.divui %[[G]], %c4
// CHECK: %[[NEXT:.+]] = arith.addi %[[J0]], %c16
// CHECK: arith.addi %[[NEXT]], %[[QUARTER]]
// CHECK: memref.prefetch %[[K]][%[[BATCH]], %[[KVH]], %{{.+}}, %c0], read, locality<2>, data
// CHECK: memref.prefetch %[[V]]
// CHECK: vector.load %[[K]][%[[BATCH]], %[[KVH]], %{{.+}}, %c0] : memref<?x2x?x64xf32>, vector<8xf32>
// CHECK: vector.fma
// CHECK-NOT: vector.reduction
// CHECK: vector.shuffle
// CHECK: vector.store %{{.+}}, %{{.+}} : memref<16xf32>, vector<8xf32>
// Causal and window masks with the block's keys on the lanes, then the block max.
// CHECK: arith.cmpi sle, %{{.+}}, %{{.+}} : vector<8xi64>
// CHECK: arith.cmpi sgt, %{{.+}}, %{{.+}} : vector<8xi64>
// CHECK: arith.select %{{.+}}, %{{.+}}, %cst{{.*}} : vector<8xi1>, vector<8xf32>
// CHECK: %[[ZMAX:.+]] = vector.reduction <maximumf>
// The online softmax update gives the row's alpha; a block that leaves the row nothing gives p = 0 and
// alpha = 1.
// CHECK: %[[SOME:.+]] = arith.cmpf ogt, %[[ZMAX]]
// CHECK: %[[ALPHA0:.+]] = scf.if %[[SOME]] -> (f32) {
// CHECK: math.exp %{{.+}} : f32
// CHECK: math.exp %{{.+}} : vector<8xf32>
// CHECK: vector.reduction <add>
// CHECK: } else {
// CHECK: scf.yield %{{.+}} : f32
// The tuple's other rows the same way; row 1 prefetches keys j0 + 16 + [4, 8), row 3 j0 + 16 + [12, 16).
// CHECK: scf.if %[[FIRST]] {
// CHECK: arith.addi %{{.+}}, %c4
// CHECK: memref.prefetch %[[K]]
// CHECK: %[[ALPHA1:.+]] = scf.if %{{.+}} -> (f32) {
// CHECK: memref.prefetch %[[K]]
// CHECK: %[[ALPHA2:.+]] = scf.if %{{.+}} -> (f32) {
// CHECK: scf.if %[[FIRST]] {
// CHECK: arith.addi %{{.+}}, %c12
// CHECK: memref.prefetch %[[K]]
// CHECK: %[[ALPHA3:.+]] = scf.if %{{.+}} -> (f32) {
// P V for the 4 rows at once, head_dim_v (32 = 4 vectors) on the lanes: each V vector is loaded once and
// feeds the 4 rows' accumulators (16 in all), rescaled by their alphas as they are loaded.
// CHECK: vector.broadcast %[[ALPHA0]]
// CHECK: vector.broadcast %[[ALPHA1]]
// CHECK: vector.broadcast %[[ALPHA2]]
// CHECK: vector.broadcast %[[ALPHA3]]
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-4: vector.load %[[V]][%[[BATCH]], %[[KVH]], %{{.+}}] : memref<?x2x?x32xf32>, vector<8xf32>
// CHECK-NOT: vector.load %[[V]]
// CHECK: scf.yield
// Then at most one pair of the remaining rows (8 accumulators) and one single row (4).
// CHECK: %[[REST:.+]] = arith.subi %[[ROWS]], %[[QUADS]]
// CHECK: arith.divui %[[REST]], %c2
// CHECK: scf.for %{{.+}} = %[[QUADS]] to %{{.+}} step %c2 {
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c1 {
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args({{.+}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// Epilogue: acc / l (0 for a row that saw no key) into the output rows.
// CHECK: arith.cmpf ogt
// CHECK: arith.divf
// CHECK: vector.store %{{.+}}, %[[O]]
// CHECK: } else {
// CHECK: arith.divui %[[W]], %[[BLOCKQ]]
// CHECK-NOT: memref.alloca
// CHECK: memref.store %{{.+}}, %[[O]]
func.func @causal_window(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x32xf32>, %o: memref<?x4x?x32xf32>) {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x32xf32>) outs(%o : memref<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 16}
  return
}

// -----

// Variants in the decode form. Per-token gates: a row whose gate is 0 is written as zeros and left out
// of the item's active rows. Learned sinks start a row at m = s[h], l = 1. Streaming walks the sink tokens
// and then the window. The mask region runs first, with the keys on the lanes; a block it hides from a
// row is skipped for that row. The score region runs on vectors of keys.
// CHECK-LABEL: func.func @variants
// CHECK-SAME: %[[SINKS:[a-z0-9]+]]: memref<4xf32>, %[[GATES:[a-z0-9]+]]: memref<?x4x?xf32>
// CHECK: scf.if %{{.+}} {
// CHECK: %[[ACTIVE:.+]] = scf.for {{.+}} iter_args({{.+}}) -> (index)
// CHECK: memref.load %[[GATES]]
// CHECK: arith.cmpf une
// CHECK: scf.if
// CHECK: } else {
// CHECK: vector.store %{{.+}}, %{{.+}} : memref<?x4x?x64xf32>, vector<8xf32>
// CHECK: scf.for %{{.+}} = %c0 to %[[ACTIVE]] step %c1
// CHECK: memref.load %[[SINKS]]
// Sink tokens [0, min(4, T)), then the window.
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c16 {
// CHECK: scf.for %{{.+}} = %c0 to %[[ACTIVE]] step %c1 {
// CHECK: arith.cmpi eq, %{{.+}}, %{{.+}} : vector<8xindex>
// CHECK: %[[ANY:.+]] = vector.reduction <or>
// CHECK: scf.if %{{.+}} {
// CHECK: vector.shuffle
// CHECK: math.tanh %{{.+}} : vector<8xf32>
// CHECK: vector.reduction <maximumf>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16 {
// CHECK: scf.for %{{.+}} = %c0 to %[[ACTIVE]] step %c1 {
// CHECK: vector.reduction <or>
// The row's gate scales its output.
// CHECK: scf.for %{{.+}} = %c0 to %[[ACTIVE]] step %c1 {
// CHECK: arith.mulf
// CHECK: vector.store
// CHECK: } else {
func.func @variants(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x64xf32>, %s: memref<4xf32>, %g: memref<?x4x?xf32>, %o: memref<?x4x?x64xf32>) {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>) sinks(%s : memref<4xf32>) gates(%g : memref<?x4x?xf32>) outs(%o : memref<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 32, sink_tokens = 4}
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

// The decode form loads rows as vectors; an operand whose innermost dimension is not unit-stride keeps
// the kernel in the block form.
// CHECK-LABEL: func.func @strided_key
// CHECK-NOT: arith.cmpi ule
// CHECK-NOT: vector.reduction <add>
// CHECK: return
func.func @strided_key(%q: memref<1x2x8x16xf32>, %k: memref<1x2x40x16xf32, strided<[2560, 1280, 32, 2]>>, %v: memref<1x2x40x16xf32>, %o: memref<1x2x8x16xf32>) {
  xf.attention ins(%q, %k, %v : memref<1x2x8x16xf32>, memref<1x2x40x16xf32, strided<[2560, 1280, 32, 2]>>, memref<1x2x40x16xf32>) outs(%o : memref<1x2x8x16xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.25 : f64}
  return
}
