// The tensor-core form of xf-lower-attention: one warp (32 work items) per 16 query rows, Q K^T and P V as
// m16n8k16 mma.sync; mma-form=emulate is the same program on 32-lane vectors for the CPU.
// RUN: xf-opt %s --xf-lower-attention="mma-form=simt vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4" --canonicalize --cse --split-input-file | FileCheck %s
// RUN: xf-opt %s --xf-lower-attention="mma-form=emulate" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=EMU
// RUN: xf-opt %s --xf-lower-attention="mma-form=simt mma-stage-kv=false vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=DIRECT
// RUN: xf-opt %s --xf-lower-attention="mma-form=simt mma-split-min-keys=0 vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=NOSPLIT
// RUN: not xf-opt %s --xf-lower-attention="mma-form=wmma" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: mma-form must be simt, emulate or empty, got 'wmma'
// RUN: not xf-opt %s --xf-lower-attention="mma-form=simt mma-split-min-keys=-1" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADSPLIT
// BADSPLIT: mma-split-min-keys must be 0 (no split) or positive, got -1
// RUN: not xf-opt %s --xf-lower-attention="mma-form=simt mma-m-tiles=3" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADTILES
// BADTILES: mma-m-tiles must be 0 (by head dim), 1 or 2, got 3
// RUN: xf-opt %s --xf-lower-attention="mma-form=simt mma-m-tiles=1 vector-width=1 block-q=1 block-k=16 key-regs=4 value-regs=4" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=M1
// One m-tile: row blocks of 16, per key block 8 multiplies for S and 4 for P V.
// M1-LABEL: func.func @tensor_cores
// M1: arith.ceildivui %{{.+}}, %c16 : index
// M1: xf.scratch_words_per_item = 18 : i64, xf.scratch_zeroed_words_per_item = 1 : i64
// M1: scf.for
// M1-COUNT-8: nvvm.mma.sync
// M1: math.exp
// M1-COUNT-4: nvvm.mma.sync
// M1: gpu.barrier

// CHECK-LABEL: func.func @tensor_cores
// CHECK-SAME: xf.subgroup_lanes = 32 : i64, xf.workgroup_size = 128 : i64
// Work items: B * H * ceil(S / 32) row blocks (two m-tiles of 16 rows; padded to whole workgroups of 4
// warps), each split over up to 64 warps of 32 lanes: as many as 1024 warps want, with at least 256 keys
// (16 key blocks) per split.
// CHECK: %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c32 : index
// CHECK: arith.ceildivui %[[BLOCKS]], %c4 : index
// CHECK: arith.ceildivui %c1024
// CHECK: arith.minui %{{.+}}, %c64 : index
// Scratch: per work item one word the runtime zeroes (the row blocks' arrival counts), then the splits'
// partials, per warp 32 rows of (max, sum, 32 accumulators): 1 + 34 words per lane.
// CHECK: memref.alloc(%{{.+}}) {xf.scratch_words_per_item = 35 : i64, xf.scratch_zeroed_words_per_item = 1 : i64} : memref<?xf32>
// CHECK: scf.parallel (%[[W:.+]]) = (%c0) to (%{{.+}}) step (%c1)
// CHECK: arith.remui %[[W]], %c32 : index
// Staged K/V: the workgroup's two buffers of 16 keys, the first block copied before the loop.
// CHECK: %[[KT:.+]] = memref.alloc() : memref<1x2x16x64xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[VT:.+]] = memref.alloc() : memref<1x2x16x32xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy %{{.+}}, %[[KT]][%{{.+}}, %c0, %{{.+}}, %{{.+}}], 8 {bypassL1}
// CHECK: nvvm.cp.async.commit.group
// One key block of 16 per iteration: per 8-key S tile and m-tile D/16 = 4 multiplies (16 in all), then per
// m-tile Dv/8 = 4 for P V, every K and V fragment feeding both m-tiles.
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16 iter_args
// The next block into the other buffer; wait for all but that newest group, then the workgroup's barrier.
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// A warp computes only on the blocks its own rows see.
// CHECK: scf.if %{{.+}} -> (
// K fragments by ldmatrix from the XOR-swizzled tile (both S tiles of a head-dim step in one .x4), V's by
// ldmatrix .trans.
// CHECK: arith.xori
// CHECK: nvgpu.ldmatrix %[[KT]][{{.+}}] {numTiles = 4 : i32, transpose = false} : memref<1x2x16x64xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-16: nvvm.mma.sync A[{{.+}}] B[{{.+}}] C[{{.+}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// The row maxima: the 4 lanes of a row by xor shuffles 1 and 2.
// CHECK: gpu.shuffle xor %{{.+}}, %c1_i32, %c32_i32 : f32
// CHECK: gpu.shuffle xor %{{.+}}, %c2_i32, %c32_i32 : f32
// CHECK: math.exp
// P, rounded to bf16, is the A operand of P V.
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// CHECK: nvgpu.ldmatrix %[[VT]][{{.+}}] {numTiles = 4 : i32, transpose = true} : memref<1x2x16x32xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-8: nvvm.mma.sync
// Every warp is done with the buffer before the next iteration refills it.
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// CHECK: nvvm.cp.async.wait.group 0
// The denominators over the row's lanes.
// CHECK: gpu.shuffle xor
// With more than one split: the partial out, a fence, and lane 0 counts it in; the warp that completes
// the count fences again and combines every split's partial.
// CHECK: scf.if %{{.+}} -> ({{.+}}, i1)
// CHECK: memref.store %{{.+}}, %[[SCRATCH:.+]][%{{.+}}] : memref<?xf32>
// CHECK: nvvm.memory.barrier <gpu>
// CHECK-NEXT: nvvm.bar.warp.sync
// CHECK: memref.atomic_rmw addf %{{.+}}, %[[SCRATCH]][%{{.+}}] : (f32, memref<?xf32>) -> f32
// CHECK: gpu.shuffle idx
// CHECK: nvvm.memory.barrier <gpu>
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args
// CHECK: memref.load %[[SCRATCH]]
// CHECK: math.exp
// Only that warp stores, and not the rows past S.
// CHECK: scf.if
// CHECK: memref.store %{{.+}}, %{{.+}} : memref<?x8x?x32xf32>

// NOSPLIT-LABEL: func.func @tensor_cores
// NOSPLIT-NOT: memref.alloc(%
// NOSPLIT-NOT: memref.atomic_rmw
// NOSPLIT: memref.store %{{.+}}, %{{.+}} : memref<?x8x?x32xf32>
// NOSPLIT-LABEL: func.func @not_taken

// Direct loads: no workgroup memory, no copies.
// DIRECT-LABEL: func.func @tensor_cores
// DIRECT-NOT: xf.workgroup_size
// DIRECT-NOT: device_async_copy
// DIRECT: nvvm.mma.sync
// DIRECT-NOT: cp.async

// EMU-LABEL: func.func @tensor_cores
// EMU-NOT: xf.subgroup_lanes
// EMU-NOT: nvvm.mma.sync
// EMU: scf.parallel
// EMU: math.fma %{{.+}}, %{{.+}}, %{{.+}} : vector<32xf32>
// EMU-NOT: gpu.shuffle
func.func @tensor_cores(%q: memref<?x8x?x64xbf16>, %k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x32xbf16>, %o: memref<?x8x?x32xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x8x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x32xbf16>) outs(%o : memref<?x8x?x32xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.125 : f64, causal = true, window = 64}
  return
}

// -----

// f32 operands (and any variant beyond causal and window) keep the other forms.
// CHECK-LABEL: func.func @not_taken
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
// EMU-LABEL: func.func @not_taken
// EMU-NOT: vector<32xf32>
// EMU: return
func.func @not_taken(%q: memref<?x8x?x64xf32>, %k: memref<?x2x?x64xf32>, %v: memref<?x2x?x64xf32>, %o: memref<?x8x?x64xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x8x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>) outs(%o : memref<?x8x?x64xf32>) {num_heads = 8, num_kv_heads = 2, scale = 0.125 : f64, causal = true}
  return
}
