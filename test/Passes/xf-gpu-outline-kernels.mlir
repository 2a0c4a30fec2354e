// RUN: xf-opt %s --xf-gpu-outline-kernels --split-input-file --verify-diagnostics | FileCheck %s
// RUN: xf-opt %s --xf-gpu-outline-kernels="target=cuda workgroup-size=128" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=CUDA
// RUN: not xf-opt %s --xf-gpu-outline-kernels="target=metal" --split-input-file 2>&1 | FileCheck %s --check-prefix=TARGET

// TARGET: xf-gpu-outline-kernels: target must be vulkan or cuda, got 'metal'

// The host function stays (the kernel ABI pass derives the work-item counter from it) and records the
// launch: the push constants are the dynamic dims (operand, dim) in order.
// CHECK: module attributes {gpu.container_module}
// CHECK: func.func @double({{.*}}) attributes {xf.gpu_kernel = {entry = "double", push_constants = [array<i64: 0, 0>, array<i64: 1, 0>], workgroup_size = 64 : i64}, xf.kernel}
// CHECK: scf.parallel
// Operands are flat storage buffers (set 0), dynamic dims i32 arguments (set 1, the push constants).
// CHECK: gpu.module @double_gpu attributes {spirv.target_env = #spirv.target_env<#spirv.vce<v1.3, [Shader], [SPV_KHR_storage_buffer_storage_class]>, api=Vulkan
// CHECK: gpu.func @double(%[[X:.+]]: memref<?xf32> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 0)>}, %[[Y:.+]]: memref<?xf32> {spirv.interface_var_abi = #spirv.interface_var_abi<(0, 1)>}, %[[NX:.+]]: i32 {spirv.interface_var_abi = #spirv.interface_var_abi<(1, 0), StorageBuffer>}, %{{.+}}: i32 {spirv.interface_var_abi = #spirv.interface_var_abi<(1, 1), StorageBuffer>}) kernel
// CHECK-SAME: spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>
// Scratch moves to the entry, private to the thread, and i64/index scratch is narrowed to i32.
// CHECK-NEXT: memref.alloca() : memref<4xi32, #spirv.storage_class<Function>>
// CHECK: %[[N:.+]] = arith.index_cast %[[NX]] : i32 to index
// One work item per thread, guarded by the item count.
// CHECK: %[[B:.+]] = gpu.block_id x
// CHECK: %[[T:.+]] = gpu.thread_id x
// CHECK: %[[BASE:.+]] = arith.muli %[[B]], %c64
// CHECK: %[[ITEM:.+]] = arith.addi %[[BASE]], %[[T]]
// CHECK: arith.cmpi slt, %{{.+}}, %[[N]]
// CHECK: scf.if
// Row-major linear indices into the flat buffers.
// CHECK: %[[ROW:.+]] = arith.muli %{{.+}}, %c4
// CHECK: %[[LIN:.+]] = arith.addi %[[ROW]], %{{.+}}
// CHECK: memref.load %[[X]][%[[LIN]]] : memref<?xf32>
// CHECK: memref.store %{{.+}}, %[[Y]][%{{.+}}] : memref<?xf32>
// CHECK: gpu.return

// CUDA: gpu.module @double_gpu {
// CUDA: gpu.func @double(%{{.+}}: memref<?xf32>, %{{.+}}: memref<?xf32>, %{{.+}}: i32, %{{.+}}: i32) kernel attributes {known_block_size = array<i32: 128, 1, 1>, xf.read_only_buffers = 1 : i64}
// CUDA-NEXT: memref.alloca() : memref<4xi64>
func.func @double(%x: memref<?x4xf32>, %y: memref<?x4xf32>) attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %two = arith.constant 2.0 : f32
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %s = memref.alloca() : memref<4xi64>
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x4xf32>
      %d = arith.mulf %v, %two : f32
      %w = arith.fptosi %d : f32 to i64
      memref.store %w, %s[%j] : memref<4xi64>
      memref.store %d, %y[%i, %j] : memref<?x4xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A loop that yields values is entered only when it runs: the SCF-to-SPIR-V conversion would lose the
// initial values of a loop that runs zero times.
// CHECK-LABEL: gpu.func @sum
// CHECK: %[[RUNS:.+]] = arith.cmpi slt, %c0, %{{.+}} : index
// CHECK: scf.if %[[RUNS]] -> (f32) {
// CHECK: scf.for {{.+}} iter_args
// CHECK: } else {
// CHECK: scf.yield %cst
func.func @sum(%x: memref<?x?xf32>, %y: memref<?xf32>) attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %s = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %zero) -> f32 {
      %v = memref.load %x[%i, %j] : memref<?x?xf32>
      %a = arith.addf %acc, %v : f32
      scf.yield %a : f32
    }
    memref.store %s, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}

// -----

// expected-error @+1 {{GPU kernels take dense row-major memrefs; operand 0 is 'memref<?x4xf32, strided<[8, 1]>>'}}
func.func @strided(%x: memref<?x4xf32, strided<[8, 1]>>) attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.reduce
  }
  return
}

// -----

// expected-error @+1 {{xf kernel must contain one one-dimensional top-level scf.parallel}}
func.func @no_loop(%x: memref<?xf32>) attributes {xf.kernel} {
  return
}

// -----

// Attention's key and value rows ([B, Hkv, T, D], named by xf.operand_names) are indexed with a pitch
// passed after the dynamic dims, so a KV cache of more rows than T is read in place; the query's rows
// are not pitched. The launch lists the pitches.
// CHECK-LABEL: func.func @cache
// CHECK-SAME: pitches = [array<i64: 1, 2>, array<i64: 2, 2>], push_constants = [array<i64: 0, 0>, array<i64: 0, 2>, array<i64: 1, 0>, array<i64: 1, 2>, array<i64: 2, 0>, array<i64: 2, 2>, array<i64: 3, 0>]
// CHECK: gpu.func @cache(%[[Q:[^:]+]]: memref<?xf32> {{[^%]+}}, %[[K:[^:]+]]: memref<?xf32> {{[^%]+}}, %[[V:[^:]+]]: memref<?xf32> {{[^%]+}}, %{{[^:]+}}: memref<?xf32> {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %[[S:[^:]+]]: i32 {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %{{[^:]+}}: i32 {{[^%]+}}, %[[PK:[^:]+]]: i32 {spirv.interface_var_abi = #spirv.interface_var_abi<(1, 7), StorageBuffer>}, %[[PV:[^:]+]]: i32 {spirv.interface_var_abi = #spirv.interface_var_abi<(1, 8), StorageBuffer>})
// CHECK-DAG: %[[ROWSQ:.+]] = arith.index_cast %[[S]] : i32 to index
// CHECK-DAG: %[[ROWSK:.+]] = arith.index_cast %[[PK]] : i32 to index
// CHECK-DAG: %[[ROWSV:.+]] = arith.index_cast %[[PV]] : i32 to index
// CHECK: arith.muli %{{.+}}, %[[ROWSK]]
// CHECK: memref.load %[[K]]
// CHECK: arith.muli %{{.+}}, %[[ROWSV]]
// CHECK: memref.load %[[V]]
// CHECK: arith.muli %{{.+}}, %[[ROWSQ]]
// CHECK: memref.load %[[Q]]
// CUDA-LABEL: gpu.func @cache
// CUDA-SAME: %{{[^:]+}}: i32, %{{[^:]+}}: i32) kernel
func.func @cache(%q: memref<?x2x?x4xf32>, %k: memref<?x1x?x4xf32>, %v: memref<?x1x?x4xf32>, %o: memref<?x2x4xf32>)
    attributes {xf.kernel, xf.operand_names = ["query", "key", "value", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %n = memref.dim %q, %c0 : memref<?x2x?x4xf32>
  %t = memref.dim %k, %c2 : memref<?x1x?x4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %k[%i, %c0, %t, %c1] : memref<?x1x?x4xf32>
    %y = memref.load %v[%i, %c0, %t, %c1] : memref<?x1x?x4xf32>
    %z = memref.load %q[%i, %c1, %t, %c1] : memref<?x2x?x4xf32>
    %s = arith.addf %x, %y : f32
    %u = arith.addf %s, %z : f32
    memref.store %u, %o[%i, %c1, %c1] : memref<?x2x4xf32>
    scf.reduce
  }
  return
}
