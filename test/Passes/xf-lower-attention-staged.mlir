// Staged K/V of xf-lower-attention (workgroup-rows=N, as the GPU pipelines set it): the N work items of
// a workgroup take consecutive query rows of one (batch, head) and share each key block of K and V
// through workgroup memory, between two barriers, in a key loop that is the same for all of them.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 workgroup-rows=64" --canonicalize --cse --split-input-file | FileCheck %s
// The outliner keeps the workgroup buffers per workgroup and takes the kernel's own workgroup size.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 workgroup-rows=64" --canonicalize --cse --split-input-file | xf-opt --xf-gpu-outline-kernels="workgroup-size=32" --split-input-file | FileCheck %s --check-prefix=VULKAN
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 workgroup-rows=64" --canonicalize --cse --split-input-file | xf-opt --xf-gpu-outline-kernels="target=cuda workgroup-size=32" --split-input-file | FileCheck %s --check-prefix=CUDA
// The outliner records the barrier loop, which the runtime bounds on llvmpipe (it does not unroll).
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 workgroup-rows=64" --split-input-file | xf-opt --xf-gpu-outline-kernels="workgroup-size=32" --split-input-file | FileCheck %s --check-prefix=INFO
// INFO: xf.gpu_kernel = {barrier_loops = 1 : i64, entry = "causal_window"
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 workgroup-rows=64 decode-form=true" --split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS

// OPTIONS: workgroup-rows (staged K/V) and decode-form cannot be combined

// Every (batch, head) gets ceil(S / 64) whole workgroups; the item's lane is its place in the workgroup.
// CHECK-LABEL: func.func @causal_window
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x4x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[V:[a-z0-9]+]]: memref<?x2x?x32xf32>, %[[O:[a-z0-9]+]]: memref<?x4x?x32xf32>)
// CHECK-SAME: xf.workgroup_size = 64 : i64
// CHECK-DAG: %[[S:.+]] = memref.dim %[[Q]], %c2
// CHECK-DAG: %[[T:.+]] = memref.dim %[[K]], %c2
// CHECK: %[[UP:.+]] = arith.addi %[[S]], %c63
// CHECK: %[[GROUPS:.+]] = arith.divui %[[UP]], %c64
// CHECK: %[[PERHEAD:.+]] = arith.muli %[[GROUPS]], %c64
// CHECK: scf.parallel (%[[W:.+]]) =
// CHECK: %[[QB:.+]] = arith.remui %{{.+}}, %[[PERHEAD]]
// CHECK: %[[LANE:.+]] = arith.remui %[[QB]], %c64
// The K and V tiles of one key block (16 keys) live in workgroup memory.
// CHECK: %[[KT:.+]] = memref.alloc() : memref<16x64xf32, #gpu.address_space<workgroup>>
// CHECK: %[[VT:.+]] = memref.alloc() : memref<16x32xf32, #gpu.address_space<workgroup>>
// An item past the last row has none; it still takes part in the loads and barriers.
// CHECK: %[[ROWS:.+]] = arith.maxsi %{{.+}}, %c0
// CHECK: %[[COMPUTES:.+]] = arith.cmpi sgt, %[[ROWS]], %c0
// CHECK: scf.if %[[COMPUTES]] {
// The item's own key range (causal, window 8) ...
// CHECK: %[[OWNBEGIN:.+]] = arith.maxsi %{{.+}}, %c0
// CHECK: %[[OWNEND:.+]] = arith.minsi %[[T]], %{{.+}}
// ... and the workgroup's: the union over its rows, from its first and last position.
// CHECK: %[[GROUPBEGIN:.+]] = arith.maxsi %{{.+}}, %c0
// CHECK: %[[GROUPEND:.+]] = arith.minsi %[[T]], %{{.+}}
// CHECK: scf.for %[[J0:.+]] = %[[GROUPBEGIN]] to %[[GROUPEND]] step %c16 iter_args(
// Together the 64 items load 16 x 64 keys and 16 x 32 values, then wait for each other.
// CHECK: scf.for %[[E:.+]] = %[[LANE]] to %c1024 step %c64 {
// CHECK: memref.load %[[K]]
// CHECK: memref.store %{{.+}}, %[[KT]]
// CHECK: scf.for %{{.+}} = %[[LANE]] to %c512 step %c64 {
// CHECK: memref.load %[[V]]
// CHECK: memref.store %{{.+}}, %[[VT]]
// CHECK: gpu.barrier
// An item computes a block that meets its own range, reading K and V from the tiles.
// CHECK: %[[BEFOREEND:.+]] = arith.cmpi slt, %[[J0]], %[[OWNEND]]
// CHECK: %[[BLOCKEND:.+]] = arith.addi %[[J0]], %c16
// CHECK: %[[AFTERBEGIN:.+]] = arith.cmpi sgt, %[[BLOCKEND]], %[[OWNBEGIN]]
// CHECK: %[[MEETS:.+]] = arith.andi %[[BEFOREEND]], %[[AFTERBEGIN]]
// CHECK: %[[MINE:.+]] = arith.andi %[[COMPUTES]], %[[MEETS]]
// CHECK: scf.if %[[MINE]] -> (vector<1xf32>, vector<1xf32>) {
// CHECK-NOT: memref.load %[[K]]
// CHECK: memref.load %[[KT]]
// CHECK-NOT: memref.load %[[V]]
// CHECK: memref.load %[[VT]]
// CHECK: } else {
// CHECK: gpu.barrier
// CHECK: scf.yield
// The epilogue (or zeros) for the item's rows.
// CHECK: scf.if %[[COMPUTES]] {
// CHECK: memref.store %{{.+}}, %[[O]]
// CHECK: } else {

// VULKAN-LABEL: gpu.func @causal_window
// VULKAN-SAME: spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>
// VULKAN-DAG: memref.alloc() : memref<16x64xf32, #spirv.storage_class<Workgroup>>
// VULKAN-DAG: memref.alloc() : memref<16x32xf32, #spirv.storage_class<Workgroup>>
// VULKAN: gpu.barrier
// VULKAN: gpu.barrier

// CUDA-LABEL: gpu.func @causal_window
// CUDA-SAME: workgroup(%[[KT:.+]] : memref<16x64xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %[[VT:.+]] : memref<16x32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CUDA-SAME: known_block_size = array<i32: 64, 1, 1>
// CUDA-NOT: memref.alloc()
// CUDA: memref.store %{{.+}}, %[[KT]]
// CUDA: gpu.barrier
func.func @causal_window(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x32xf32>, %o: memref<?x4x?x32xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x32xf32>) outs(%o : memref<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 8}
  return
}

// -----

// Both tiles must fit the workgroup memory (16 KiB by default): with head dim 256, 8 keys a block.
// CHECK-LABEL: func.func @wide_heads
// CHECK: memref.alloc() : memref<8x256xf32, #gpu.address_space<workgroup>>
// CHECK: memref.alloc() : memref<8x256xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c8 iter_args(
// CHECK: gpu.barrier
// VULKAN-LABEL: gpu.func @wide_heads
// CUDA-LABEL: gpu.func @wide_heads
func.func @wide_heads(%q: memref<1x2x?x256xf32>, %k: memref<1x2x?x256xf32>, %v: memref<1x2x?x256xf32>, %o: memref<1x2x?x256xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<1x2x?x256xf32>, memref<1x2x?x256xf32>, memref<1x2x?x256xf32>) outs(%o : memref<1x2x?x256xf32>) {num_heads = 2, num_kv_heads = 2, scale = 0.0625 : f64}
  return
}
