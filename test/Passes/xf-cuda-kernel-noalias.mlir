// RUN: xf-opt %s --xf-cuda-kernel-noalias | FileCheck %s

// Two input buffers and the output, then a shape: the aligned pointers get noalias, the inputs' also
// readonly; the allocated pointers and the scalars stay as they are.
// CHECK-LABEL: llvm.func @k(
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32,
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32,
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32)
gpu.module @k_gpu {
  llvm.func @k(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i32, %a3: i32, %a4: i32,
               %b0: !llvm.ptr, %b1: !llvm.ptr, %b2: i32, %b3: i32, %b4: i32,
               %o0: !llvm.ptr, %o1: !llvm.ptr, %o2: i32, %o3: i32, %o4: i32, %n: i32) attributes {nvvm.kernel} {
    llvm.return
  }
  // Functions that are not kernels are left alone.
  // CHECK-LABEL: llvm.func @helper(%{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32)
  llvm.func @helper(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i32, %a3: i32, %a4: i32) {
    llvm.return
  }
}
