// RUN: xf-opt %s --xf-lower-moh-router=vector-width=8 --canonicalize --cse | FileCheck %s

// One work item per token; vectorized dot products (64 features = 8 vectors of 8), three softmaxes,
// top-k by repeated argmax, gates written into [B, H, S].
// CHECK-LABEL: func.func @router
// CHECK-SAME: xf.kernel_info = {kind = "moh_router", num_heads = 8 : i64, shared_heads = 2 : i64, top_k = 3 : i64}
// CHECK-SAME: xf.operand_names = ["input", "w_routed", "w_shared", "w_head", "gates"]
// CHECK-NOT: xf.moh_router
// CHECK: scf.parallel
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: math.exp
// CHECK: arith.cmpf ogt
// CHECK: memref.store %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}] : memref<?x8x?xf32>
func.func @router(%x: memref<?x?x64xf32>, %wr: memref<6x64xf32>, %ws: memref<2x64xf32>, %wh: memref<2x64xf32>, %g: memref<?x8x?xf32>) {
  xf.moh_router ins(%x, %wr, %ws, %wh : memref<?x?x64xf32>, memref<6x64xf32>, memref<2x64xf32>, memref<2x64xf32>) outs(%g : memref<?x8x?xf32>) {shared_heads = 2, top_k = 3}
  return
}
