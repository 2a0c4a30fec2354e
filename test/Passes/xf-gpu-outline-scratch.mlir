// RUN: xf-opt %s --xf-gpu-outline-kernels="target=cuda workgroup-size=64" | FileCheck %s
// RUN: not xf-opt %s --xf-gpu-outline-kernels 2>&1 | FileCheck %s --check-prefix=VULKAN

// Scratch the work items share (the tensor-core form's split-K partials): the 1-D f32 alloc marked with its
// words per work item becomes a buffer after the operands, and the launch records its size and how many
// leading words per item the runtime zeroes before each launch. Only the operands before the output are read-only; the output and scratch are written.
// CHECK: func.func @count({{.*}}) attributes {xf.gpu_kernel = {entry = "count", push_constants = [array<i64: 0, 0>, array<i64: 1, 0>], scratch_words_per_item = 2 : i64, scratch_zeroed_words_per_item = 1 : i64, workgroup_size = 64 : i64}, xf.kernel}
// CHECK: gpu.func @count(%[[X:.+]]: memref<?xf32>, %[[Y:.+]]: memref<?xf32>, %[[S:.+]]: memref<?xf32>, %{{.+}}: i32, %{{.+}}: i32) kernel attributes {known_block_size = array<i32: 64, 1, 1>, xf.read_only_buffers = 1 : i64}
// CHECK-NOT: memref.alloc
// CHECK: memref.atomic_rmw addf %{{.+}}, %[[S]][%{{.+}}] : (f32, memref<?xf32>) -> f32
// VULKAN: error: Vulkan kernels take no scratch buffer
func.func @count(%x: memref<?xf32>, %y: memref<?xf32>) attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %one = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?xf32>
  %words = arith.muli %n, %c2 : index
  %scratch = memref.alloc(%words) {xf.scratch_words_per_item = 2 : i64, xf.scratch_zeroed_words_per_item = 1 : i64} : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = memref.load %x[%i] : memref<?xf32>
    %old = memref.atomic_rmw addf %one, %scratch[%c0] : (f32, memref<?xf32>) -> f32
    %s = arith.addf %v, %old : f32
    memref.store %s, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
