// The subgroup form of xf-lower-attention (subgroup-lanes=L, as the GPU pipelines set it): with
// S <= subgroup-rows, every query row gets L consecutive work items (lanes of one subgroup) that split the
// head dims and sum each score with a butterfly of xor shuffles.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=8 subgroup-rows=4" --canonicalize --cse | FileCheck %s
// The outliner records the lanes for the runtime and lets SPIR-V convert the shuffles; CUDA needs a warp.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=8" --canonicalize --cse | xf-opt --xf-gpu-outline-kernels="workgroup-size=64" | FileCheck %s --check-prefix=VULKAN
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=32" --canonicalize --cse | xf-opt --xf-gpu-outline-kernels="target=cuda workgroup-size=64" | FileCheck %s --check-prefix=CUDA
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8" | not xf-opt --xf-gpu-outline-kernels="target=cuda workgroup-size=64" 2>&1 | FileCheck %s --check-prefix=CUDAWARP
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8" | not xf-opt --xf-gpu-outline-kernels="workgroup-size=4" 2>&1 | FileCheck %s --check-prefix=WGSIZE
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=6" 2>&1 | FileCheck %s --check-prefix=POW2
// RUN: not xf-opt %s --xf-lower-attention="vector-width=16 block-q=32 subgroup-lanes=8" 2>&1 | FileCheck %s --check-prefix=SCALAR
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8 decode-form=true" 2>&1 | FileCheck %s --check-prefix=DECODE
// Split keys (subgroup-splits=P; the GPU pipelines set workgroup size / L): P subgroups share a row, each
// walks a contiguous share of its key blocks, and the first combines their states from workgroup memory.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=8 subgroup-rows=4 subgroup-splits=4" --canonicalize --cse | FileCheck %s --check-prefix=SPLIT
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=8 subgroup-splits=4" --canonicalize --cse | xf-opt --xf-gpu-outline-kernels="workgroup-size=64" | FileCheck %s --check-prefix=SPLITVK
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-splits=4" 2>&1 | FileCheck %s --check-prefix=SPLITLANES
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8 subgroup-splits=4 workgroup-rows=64" 2>&1 | FileCheck %s --check-prefix=SPLITWG
// A buffer of partial states past workgroup-memory leaves the row unsplit: 4 x 35 words take 560 bytes.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8 subgroup-splits=4 workgroup-memory=556" | FileCheck %s --check-prefix=NOSPLIT
// Global splits (subgroup-global-splits=G, CUDA): the G splits of a row are any warps of the launch; their
// states go to scratch, and the last to arrive (an atomic count, between device-scope fences) combines them.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4 subgroup-lanes=32 subgroup-rows=4 subgroup-global-splits=4" --canonicalize --cse | FileCheck %s --check-prefix=GSPLIT
// RUN: not xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=32 subgroup-splits=2 subgroup-global-splits=4" 2>&1 | FileCheck %s --check-prefix=GSPLITBOTH
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=8 subgroup-global-splits=4" | not xf-opt --xf-gpu-outline-kernels="workgroup-size=64" 2>&1 | FileCheck %s --check-prefix=GSPLITVK
// Heads that L does not divide keep one thread per row.
// RUN: xf-opt %s --xf-lower-attention="vector-width=1 block-q=1 subgroup-lanes=64" | FileCheck %s --check-prefix=NARROW

// POW2: subgroup-lanes must be 0 or a power of two in [2, 128], got 6
// SCALAR: subgroup-lanes needs vector-width=1 and block-q=1 (one query row per work item)
// DECODE: subgroup-lanes and decode-form cannot be combined
// CUDAWARP: CUDA kernels need xf.subgroup_lanes = 32 (a warp), got 8
// WGSIZE: xf.subgroup_lanes (8) must divide the workgroup size (4)

// CHECK-LABEL: func.func @causal
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x4x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xf32>, %[[V:[a-z0-9]+]]: memref<?x2x?x32xf32>, %[[O:[a-z0-9]+]]: memref<?x4x?x32xf32>)
// CHECK-SAME: xf.subgroup_lanes = 8 : i64, xf.subgroup_rows = 4 : i64
// CHECK-DAG: %[[B:.+]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.+]] = memref.dim %[[Q]], %c2
// B * H * S * L work items when S <= subgroup-rows.
// CHECK: %[[SMALL:.+]] = arith.cmpi ule, %[[S]], %c4
// CHECK: %[[BH:.+]] = arith.muli %[[B]], %c4
// CHECK: %[[SL:.+]] = arith.muli %[[S]], %c8
// CHECK: %[[LANEITEMS:.+]] = arith.muli %[[BH]], %[[SL]]
// CHECK: %[[ITEMS:.+]] = arith.select %[[SMALL]], %[[LANEITEMS]], %{{.+}}
// CHECK: scf.parallel (%[[W:.+]]) = (%c0) to (%[[ITEMS]])
// Per lane: 64 / 8 query dims and 32 / 8 accumulator columns.
// CHECK-DAG: memref.alloca() {{.+}} : memref<8x1xf32>
// CHECK-DAG: memref.alloca() {{.+}} : memref<4x1xf32>
// CHECK: scf.if %[[SMALL]] {
// CHECK: %[[LANE:.+]] = arith.remui %[[W]], %c8
// CHECK: %[[ROW:.+]] = arith.divui %[[W]], %c8
// The lane's query dims i * 8 + lane, pre-scaled.
// CHECK: scf.for %[[I:.+]] = %c0 to %c8 step %c1
// CHECK: %[[I8:.+]] = arith.muli %[[I]], %c8
// CHECK: %[[DQ:.+]] = arith.addi %[[I8]], %[[LANE]]
// CHECK: memref.load %[[Q]][%{{.+}}, %{{.+}}, %{{.+}}, %[[DQ]]]
// Scores: partial dot products over the lane's dims, then the butterfly (offsets 4, 2, 1 of 8).
// CHECK: memref.load %[[K]][%{{.+}}, %{{.+}}, %{{.+}}, %[[DK:.+]]]
// CHECK: %[[R4:.+]], %{{.+}} = gpu.shuffle xor %[[P:.+]], %c4_i32, %c8_i32 : f32
// CHECK: %[[S4:.+]] = arith.addf %[[P]], %[[R4]]
// CHECK: %[[R2:.+]], %{{.+}} = gpu.shuffle xor %[[S4]], %c2_i32, %c8_i32 : f32
// CHECK: %[[S2:.+]] = arith.addf %[[S4]], %[[R2]]
// CHECK: %[[R1:.+]], %{{.+}} = gpu.shuffle xor %[[S2]], %c1_i32, %c8_i32 : f32
// CHECK: arith.addf %[[S2]], %[[R1]]
// P V over the lane's value columns, and the lane's columns of the output.
// CHECK: memref.load %[[V]]
// CHECK: memref.store %{{.+}}, %[[O]][%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}]
// The other rows: one thread per row.
// CHECK: } else {
// CHECK-NOT: gpu.shuffle
// CHECK: return

// VULKAN: xf.gpu_kernel = {entry = "causal", pitches = [array<i64: 1, 2>, array<i64: 2, 2>], push_constants = [{{.+}}], subgroup_lanes = 8 : i64, subgroup_rows = 16 : i64, workgroup_size = 64 : i64}
// VULKAN: gpu.module @causal_gpu attributes {spirv.target_env = #spirv.target_env<#spirv.vce<v1.3, [Shader, GroupNonUniformShuffle], [SPV_KHR_storage_buffer_storage_class]>, api=Vulkan, #spirv.resource_limits<subgroup_size = 8>>}
// VULKAN: gpu.shuffle xor
// CUDA: xf.gpu_kernel = {entry = "causal", pitches = [array<i64: 1, 2>, array<i64: 2, 2>], push_constants = [{{.+}}], subgroup_lanes = 32 : i64, subgroup_rows = 16 : i64, workgroup_size = 64 : i64}
// CUDA: gpu.shuffle xor %{{.+}}, %c16_i32, %c32_i32

// SPLITLANES: subgroup-splits must be 1, or with subgroup-lanes at most 1024 / subgroup-lanes, got 4
// SPLITWG: workgroup-rows (64) must be subgroup-lanes x subgroup-splits (32): both set the workgroup size

// SPLIT-LABEL: func.func @causal
// SPLIT-SAME: xf.subgroup_lanes = 8 : i64, xf.subgroup_rows = 4 : i64, xf.workgroup_size = 32 : i64
// B * H * S * L * P work items.
// SPLIT: %[[SL:.+]] = arith.muli %{{.+}}, %c32
// SPLIT: scf.parallel (%[[W:.+]]) =
// Item w: lane w mod 8, split (w / 8) mod 4, row w / 32.
// SPLIT: %[[LANE:.+]] = arith.remui %[[W]], %c8
// SPLIT: %[[SUB:.+]] = arith.divui %[[W]], %c8
// SPLIT: %[[SPLIT:.+]] = arith.remui %[[SUB]], %c4
// SPLIT: arith.divui %[[SUB]], %c4
// The split's blocks [p n / 4, (p + 1) n / 4) of the n blocks of 16 keys.
// SPLIT: %[[N:.+]] = arith.divui %{{.+}}, %c16
// SPLIT: %[[PN:.+]] = arith.muli %[[SPLIT]], %[[N]]
// SPLIT: %[[FIRST:.+]] = arith.divui %[[PN]], %c4
// SPLIT: arith.muli %[[FIRST]], %c16
// SPLIT: %[[NEXT:.+]] = arith.addi %[[SPLIT]], %c1
// SPLIT: arith.muli %[[NEXT]], %[[N]]
// Partial states: 3 + 32 words per split; lane 0 writes m, l and the count, every lane its accumulator columns.
// SPLIT: %[[BUF:.+]] = memref.alloc() : memref<140xf32, #gpu.address_space<workgroup>>
// SPLIT: %[[BASE:.+]] = arith.muli %[[SPLIT]], %c35
// SPLIT: arith.cmpi eq, %[[LANE]], %c0
// SPLIT: memref.store %{{.+}}, %[[BUF]][%[[BASE]]]
// SPLIT: gpu.barrier
// The first split combines: the largest m, then l and acc rescaled to it, and writes the row.
// SPLIT: %[[IS0:.+]] = arith.cmpi eq, %[[SPLIT]], %c0
// SPLIT: scf.if %[[IS0]] {
// SPLIT: arith.maximumf
// SPLIT: math.exp
// SPLIT: math.fma
// SPLIT: memref.store %{{.+}}, %arg3
// SPLIT: } else {
// SPLIT-NOT: gpu.barrier
// SPLIT: return

// SPLITVK: xf.gpu_kernel = {entry = "causal", {{.+}}, subgroup_lanes = 8 : i64, subgroup_rows = 16 : i64, workgroup_memory = 560 : i64, workgroup_size = 32 : i64}

// NOSPLIT-NOT: gpu.barrier

// GSPLITBOTH: subgroup-global-splits must be 1, or with subgroup-lanes and subgroup-splits=1, got 4
// GSPLITVK: Vulkan kernels take no scratch buffer
// B * H * S * 32 lanes * 4 splits items; scratch: a zeroed word per item (the arrival counts), then per item
// ceil(35 / 32) = 2 words of the states (each split's 35 words padded to 64).
// GSPLIT-LABEL: func.func @causal
// GSPLIT-NOT: xf.workgroup_size
// GSPLIT: arith.muli %{{.+}}, %c128
// GSPLIT: %[[ITEMS:.+]] = arith.select
// GSPLIT: %[[SCRATCH:.+]] = memref.alloc(%{{.+}}) {xf.scratch_words_per_item = 3 : i64, xf.scratch_zeroed_words_per_item = 1 : i64} : memref<?xf32>
// GSPLIT: scf.parallel (%[[W:.+]]) =
// GSPLIT: %[[LANE:.+]] = arith.remui %[[W]], %c32
// GSPLIT: %[[SUB:.+]] = arith.divui %[[W]], %c32
// GSPLIT: %[[SPL:.+]] = arith.remui %[[SUB]], %c4
// The split's state at ITEMS + 64 * (its subgroup), written before the fence.
// GSPLIT: %[[FIRST:.+]] = arith.subi %[[SUB]], %[[SPL]]
// GSPLIT: %[[OFF:.+]] = arith.muli %[[FIRST]], %c64
// GSPLIT: %[[ROWBASE:.+]] = arith.addi %[[ITEMS]], %[[OFF]]
// GSPLIT: memref.store %{{.+}}, %[[SCRATCH]]
// GSPLIT: nvvm.memory.barrier <gpu>
// GSPLIT: nvvm.bar.warp.sync
// The row's count at its first item; lane 0 adds 1 and every lane learns the count before.
// GSPLIT: %[[COUNTER:.+]] = arith.muli %[[FIRST]], %c32
// GSPLIT: memref.atomic_rmw addf %{{.+}}, %[[SCRATCH]][%[[COUNTER]]]
// GSPLIT: gpu.shuffle  idx
// GSPLIT: %[[NOW:.+]] = arith.addf
// GSPLIT: %[[LAST:.+]] = arith.cmpf oeq, %[[NOW]], %cst
// GSPLIT: scf.if %[[LAST]] {
// GSPLIT-NEXT: nvvm.memory.barrier <gpu>
// GSPLIT: memref.load %[[SCRATCH]]
// GSPLIT: math.exp
// GSPLIT: memref.store %{{.+}}, %arg3
// GSPLIT-NOT: gpu.barrier
// GSPLIT: return

// NARROW-NOT: xf.subgroup_lanes
// NARROW-NOT: gpu.shuffle

func.func @causal(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x32xf32>, %o: memref<?x4x?x32xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x32xf32>) outs(%o : memref<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true}
  return
}
