// RUN: xf-opt %s --xf-cpu-pipeline | FileCheck %s
// RUN: xf-opt %s --xf-cpu-pipeline="vector-width=8" | FileCheck %s --check-prefix=AVX2

// Tensor-level xf IR all the way to the LLVM dialect: the kernel, its work counter and the C wrappers
// the runtime calls, with exp in vector registers (no libm call).
// CHECK-DAG: llvm.func @attn_work_items(
// CHECK-DAG: llvm.func @_mlir_ciface_attn_work_items(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr) -> i64
// CHECK-DAG: llvm.func @attn(
// CHECK-DAG: llvm.func @_mlir_ciface_attn(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: i64)
// CHECK-DAG: llvm.mlir.global external constant @xf_module_info
// CHECK-DAG: llvm.intr.fmuladd({{.+}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-NOT: expf
// CHECK-NOT: xf.attention
// AVX2: llvm.intr.fmuladd({{.+}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
func.func @attn(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>, %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) outs(%o : tensor<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true} -> tensor<?x4x?x64xf32>
  return %r : tensor<?x4x?x64xf32>
}
