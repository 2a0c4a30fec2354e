// RUN: xf-opt %s --xf-cuda-pipeline | FileCheck %s
// RUN: xf-opt %s --xf-cuda-pipeline="workgroup-size=128" | FileCheck %s --check-prefix=BLOCK
// REQUIRES: cuda-toolkit

// Tensor-level xf IR to a host module in the LLVM dialect: the work-item counter stays host code, the
// kernel is PTX for sm_80 and sm_90 (NUL-terminated globals), and the metadata names both images.
// CHECK-DAG: llvm.func @_mlir_ciface_attn_work_items(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr) -> i64
// CHECK-DAG: llvm.mlir.global external constant @xf_ptx_attn_sm80("{{.*}}.target sm_80{{.*}}.visible .entry attn({{.*}}.maxntid 64, 1, 1{{.*}}\00")
// CHECK-DAG: llvm.mlir.global external constant @xf_ptx_attn_sm90("{{.*}}.target sm_90{{.*}}.visible .entry attn({{.*}}\00")
// CHECK-DAG: llvm.mlir.global external constant @xf_module_info("{{.*}}\22gpu\22:{\22barrier_loops\22:1,\22entry\22:\22attn\22,\22pitches\22:{{\[\[1,2\],\[2,2\]\]}},\22ptx\22:[{\22arch\22:80,\22size\22:{{[0-9]+}},\22symbol\22:\22xf_ptx_attn_sm80\22},{\22arch\22:90,{{.*}}\22target\22:\22cuda\22
// No host entry point: the kernel runs on the device only.
// CHECK-NOT: llvm.func @_mlir_ciface_attn(
// CHECK-NOT: gpu.binary
// CHECK-NOT: xf.attention
// BLOCK: .maxntid 128, 1, 1
// BLOCK: \22workgroup_size\22:128
func.func @attn(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>, %o: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> attributes {xf.kernel} {
  %r = xf.attention ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) outs(%o : tensor<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true} -> tensor<?x4x?x64xf32>
  return %r : tensor<?x4x?x64xf32>
}
