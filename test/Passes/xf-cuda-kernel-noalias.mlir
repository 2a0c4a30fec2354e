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

// An input, the output and scratch after it (xf.read_only_buffers = 1): only the input is read-only, and
// loads from scratch (through its GEPs) become volatile; loads from the input stay as they are.
// CHECK-LABEL: llvm.func @split(
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias, llvm.readonly}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32,
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32,
// CHECK-SAME: %{{[a-z0-9]+}}: !llvm.ptr, %{{[a-z0-9]+}}: !llvm.ptr {llvm.noalias}, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32)
// CHECK: llvm.load %{{.+}} : !llvm.ptr -> f32
// CHECK: llvm.load volatile %{{.+}} : !llvm.ptr -> f32
// CHECK: llvm.load volatile %{{.+}} : !llvm.ptr -> f32
gpu.module @split_gpu {
  llvm.func @split(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i32, %a3: i32, %a4: i32,
                   %o0: !llvm.ptr, %o1: !llvm.ptr, %o2: i32, %o3: i32, %o4: i32,
                   %s0: !llvm.ptr, %s1: !llvm.ptr, %s2: i32, %s3: i32, %s4: i32) attributes {nvvm.kernel, xf.read_only_buffers = 1 : i64} {
    %i = llvm.mlir.constant(3 : i32) : i32
    %x = llvm.load %a1 : !llvm.ptr -> f32
    %p = llvm.getelementptr %s1[%i] : (!llvm.ptr, i32) -> !llvm.ptr, f32
    %q = llvm.getelementptr %p[%i] : (!llvm.ptr, i32) -> !llvm.ptr, f32
    %y = llvm.load %q : !llvm.ptr -> f32
    %z = llvm.load %s1 : !llvm.ptr -> f32
    llvm.store %x, %o1 : f32, !llvm.ptr
    llvm.return
  }
}
