//===- Passes.td - xf passes --------------------------------*- tablegen -*-===//
#ifndef XF_PASSES_TD
#define XF_PASSES_TD

include "mlir/Pass/PassBase.td"

def XFLowerAttention : Pass<"xf-lower-attention", "func::FuncOp"> {
  let summary = "Lower memref xf.attention to a fused, tiled online-softmax loop nest in vector form";
  let description = [{
    Rewrites every `xf.attention` on memrefs into one flash-style loop nest. The work is split into
    independent items, one per (batch, query head, block of `block-q` query rows), expressed as an
    `scf.parallel` so that a target can distribute it. Per item:

    1. the query block is packed transposed (`[D][block-q]`) and pre-multiplied by `scale`, so every
       later vector runs along query rows and no horizontal reduction is ever needed;
    2. the key range is computed from `causal` and `window`; key blocks outside it are never visited
       (block sparsity), and blocks entirely inside it skip the per-element mask;
    3. per key block of `block-k` keys: scores `z` (register-blocked over `key-regs` keys), the `score`
       region, masking (causal, window, the `mask` region, key-range tail) with `-inf`, then the online
       softmax update of the running max `m` and denominator `l` (carried as loop values), and the
       rescale-and-accumulate of `P V` into the `[Dv][block-q]` accumulator;
    4. the epilogue divides by `l` (rows that saw no key produce 0) and stores the block.

    No `S x T` score matrix exists: the largest temporary is one `block-k x block-q` tile.

    **Decode form** (`decode-form=true`, turned on by the CPU pipeline only). With few query rows the
    form above wastes its lanes: at S = 1 one of `block-q` rows is real, and each query head of a GQA
    group reads its kv head's keys and values again. The decode form is a second loop nest in the same
    `scf.parallel`, chosen at run time when `S <= decode-rows`; the work item count is then
    `B * num_kv_heads` instead of `B * num_heads * ceil(S / block-q)`. A work item takes one kv head and
    every query row of its group (`group * S` rows, flash-decoding style) and walks the key range in
    blocks of `decode-block-k` keys, each block once for all rows: per row, scores are dot products with
    `head_dim` on the vector lanes (`vector-width` keys at a time, their horizontal sums transposed into
    one vector by shuffles), the score region, masking and the softmax run with the block's keys on the
    lanes, and `P V` accumulates with `head_dim_v` on the lanes. So every K/V row comes from memory once
    per group and the rest of the group finds it in L1. The item's first rows prefetch the next block
    into L2, the requests spread over all their score loops (row i of R takes an R-th of the keys, one at
    every R-th score), so that memory stays busy while the block computes. Without a mask region or affine scaling the rows take a block
    in tuples of up to 4 (a GQA group of 4 at S = 1 is one tuple): each row's scores and softmax update as
    above, then one `P V` pass in which every V vector loaded feeds all the tuple's accumulators (a row the block adds nothing to gets `p = 0`, `alpha = 1`). Every
    variant hook of the form above works in the decode form: learned sinks, sink tokens + window, causal,
    window, score and mask regions (a key block the mask hides from a row is skipped for that row), head
    gains, per-head and per-token gates (inactive rows are skipped), affine scaling and ACT calibrated
    heads. The key range is not split across work items: combining partial `(m, l, acc)` would need
    scratch shared by the work items, which the CPU kernel ABI does not have; with `B * num_kv_heads` smaller
    than the thread count some threads idle. The decode form is not emitted (the kernel keeps only the
    form above) when a memref operand's innermost dimension is not unit-stride, since it loads rows as
    vectors.

    **Staged K/V** (`workgroup-rows=N`, set by the GPU pipelines to their workgroup size). On a GPU one
    work item is one thread, and without staging every thread streams K and V from global memory on its
    own. With staging the `N` threads of a workgroup share each key block instead:

    - every `(batch, head)` gets a whole number of workgroups: the item count per head is
      `ceil(ceil(S / block-q) / N) * N`, so the `N` items of a workgroup are consecutive query blocks of
      one head (item `w`'s place in its workgroup is `w mod N`, which the outliner's mapping makes the
      thread id); items past the last query block have no rows;
    - per key block, the `N` items load the block's `block-k` rows of K and V into two buffers in
      workgroup memory (`memref.alloc` in `#gpu.address_space<workgroup>`), consecutive items taking
      consecutive elements, then meet at a `gpu.barrier`; every item computes its rows against the
      buffers instead of global memory (the same score, mask, softmax and `P V` code, so every variant
      keeps working), and a second `gpu.barrier` guards the buffers against the next block's loads;
    - barriers need uniform control flow, so every item of the workgroup walks the same key blocks: the
      union of its items' key ranges (from the workgroup's first and last query position, under causal
      and window masks; with per-token gates, its first and last active row), empty when its head's
      factor is 0 or no item has rows. An item computes a block only if it has rows, its factor is not 0
      and the block meets its own key range (masking drops the keys outside it); otherwise it only loads
      and waits. The sink columns of ACT are read from global memory, after the key loop.

    `block-k` shrinks (in steps of `key-regs`) until both buffers fit `workgroup-memory` bytes; a head
    too wide for `key-regs` rows is not staged. The kernel function gets `xf.workgroup_size = N`, which
    `xf-gpu-outline-kernels` uses as its workgroup size. Staging and the decode form exclude each other.

    **Subgroup form** (`subgroup-lanes=L`, set by the GPU pipelines). With few query rows one thread per
    row leaves a GPU idle: at S = 1 one thread of a staged workgroup computes, walking all T keys alone.
    The subgroup form is a third loop nest in the same `scf.parallel`, chosen at run time when
    `S <= subgroup-rows` (the staged or plain form takes larger S); the item count is then
    `B * num_heads * S * L`. The `L` consecutive work items of one query row, lanes of one subgroup (the
    outliner maps consecutive items to consecutive threads), split both head dims: lane `l` owns dims
    `i * L + l`, so consecutive lanes read consecutive addresses of every K and V row. Each lane's partial
    dot product is summed across the lanes by a butterfly of `gpu.shuffle xor` (offsets `L/2, ..., 1`),
    which leaves the same, bit-identical score in every lane. So masking, the score and mask regions, the
    online softmax and every variant hook run as in the block form, identically in all lanes, and control
    flow stays uniform across the lanes of a row; each lane accumulates `P V` for its own value columns
    and stores them. A head whose `head_dim` or `head_dim_v` is not a multiple of `L` keeps the other
    forms only. The kernel function gets `xf.subgroup_lanes = L`, which the runtime checks against the
    device (subgroups of at least `L` lanes that can shuffle). Needs `vector-width=1` and `block-q=1`;
    excludes the decode form.

    **Split keys in the subgroup form** (`subgroup-splits=P`, set by the GPU pipelines to workgroup size /
    `L`). A decode step has only `B * num_heads` rows: one subgroup each, walking all `T` keys, leaves most
    of a GPU idle at long contexts. With `P > 1` a workgroup of `P * L` threads takes one row (the item
    count is `B * num_heads * S * L * P`; item `w` is lane `w mod L` of split `(w / L) mod P`): split `p`
    walks key blocks `[p * n / P, (p + 1) * n / P)` of the row's `n` visible blocks (the sink-token
    segment and a learned sink's initial state go to split 0 only) and leaves its `(m, l)`, its share of
    `acc` and, with affine scaling, its visible-key count and value sums in a workgroup buffer of
    `P * (3 + head_dim_v * (1 + affine))` f32. After a `gpu.barrier`, split 0 combines them
    (`m = max m_p`, `l = sum l_p exp(m_p - m)`, `acc = sum acc_p exp(m_p - m)`, counts and value sums
    added) and runs the epilogue (ACT's calibrated columns included) alone. Every item of the workgroup
    shares the row, so the barrier sits in uniform control flow. The function gets
    `xf.workgroup_size = P * L`. A buffer larger than `workgroup-memory` bytes leaves the op unsplit; it
    adds to the staged tiles' workgroup memory, and the runtime checks the total against the device.

    With `subgroup-global-splits=G` (CUDA only, instead of `subgroup-splits`) the `G` splits of a row are
    any subgroups of the launch (item count `B * num_heads * S * L * G`), so a row's keys spread beyond one
    workgroup. Each split writes its state to a scratch buffer (`xf.scratch_words_per_item`: one zeroed
    word per item, then `ceil(words / L)` per item for the states), fences (`nvvm.membar` at GPU scope),
    and lane 0 adds 1 to the row's arrival count (`memref.atomic_rmw addf` on its first item's word); the
    split that brings it to `G` fences again, combines the `G` states as above and runs the epilogue.

    **Tensor-core form** (`mma-form=simt`, set by `xfc --target=cuda --cuda-tensor-cores`). One warp per
    `16 * mma-m-tiles` rows (a row block; by default two m-tiles of 16 for head dims up to 96, every K
    and V fragment the warp loads feeding each, else one, since two would spill registers): (query row, head) pairs of one kv head's group, row p being query row p / group
    of head `kv_head * group + p mod group`, so the group shares every K and V fragment and a decode step
    fills `group` rows; `B * num_kv_heads * R * 32` work items with `R = ceil(S * group / rows)` row
    blocks (staged: rounded up to a multiple of 4), lane `w mod 32`.
    Q Kᵀ and P V are `nvvm.mma.sync` m16n8k16 on 16-bit operands with f32 accumulators, in PTX's
    fragment layouts (lane = 4 g + t: A holds rows g, g + 8 and columns 2t, 2t + 1, 8 + 2t, 9 + 2t; B
    rows 2t, 2t + 1, 8 + 2t, 9 + 2t of column g; C rows g, g + 8 and columns 2t, 2t + 1). Per key block
    of 16 keys, two S tiles are masked, scaled and put through the online softmax in registers (row
    maxima over the 4 lanes of a row by `gpu.shuffle xor` 1 and 2; each lane keeps a partial denominator,
    summed the same way at the end), and the two tiles' probabilities are, rounded to the operand type,
    exactly the A fragment of P V. With `mma-stage-kv` (the default) the four warps of a workgroup (128
    threads, `xf.workgroup_size`) take four consecutive row blocks of one (batch, kv head) (a kv head's
    row blocks padded to a multiple of four) and double-buffer the key blocks of K and V that any of their
    rows sees in workgroup memory, copied by all 128 threads: the next block's 16-byte `cp.async` copies
    (`nvgpu.device_async_copy`) are in flight while the warps compute on this one
    (`cp.async.wait_group 1`, then `gpu.barrier`, and again before a buffer is refilled); a warp skips
    the multiplies of a block its own rows do not see. A tile
    row keeps its 8-element chunks XOR-swizzled by the row (chunk `c` of row `r` at `c ^ (r mod 8)` when
    the row has a power-of-two number of chunks), and fragments come out by `nvgpu.ldmatrix` .x4: per
    head-dim step the K fragments of both S tiles, V's (`transpose`) two value tiles at a time, the 8
    row addresses of each phase in distinct banks; heads too
    wide for 48 KiB, or whose dims are not multiples of 16, load fragments straight from global memory,
    as `mma-stage-kv=false` does for all. The form takes key and value of one 16-bit type (bf16 or f16;
    a query of another type is rounded to it, as P is), head dims that are multiples of 16 (`head_dim`)
    and 8 (`head_dim_v`), and every variant: `causal`, `window` and streaming
    `sink_tokens` (then every key block from 0 is visited), learned `sinks` (added to the denominator at
    the end), score and mask regions (inlined per score; in the emulation once per lane), gates and head
    gains (scaling the rows at the end) and affine scaling (visible-key counts per row, and the
    visible-value sums as a second multiply by the block's 0/1 visibility, exact in the operand type),
    and ACT sink calibration (on the calibrated heads the main pass leaves the calibrated columns out;
    a second pass over just those columns, in chunks of 16 with the same fragments, gives their own max,
    denominator and accumulator, combined at the end as the op says).
    **Split-K** (`mma-split-min-keys`, default 256; 0 turns it off): a decode step has few row blocks
    over many keys, too few warps to fill a GPU. The form then splits each row block's key blocks over
    `splits = clamp(min(ceil(1024 / row blocks), key blocks / ceil(min-keys / 16)), 1, 64)` warps
    (whole key blocks, the last split shorter or empty; under a window without sink tokens only the key
    blocks a workgroup's rows can see count: the window, plus its rows, plus one block), so
    `B * num_kv_heads * R * splits * 32` work items, a workgroup's warps taking the same split. Each warp writes its rows' max, denominator
    (summed over the row's lanes) and unnormalized accumulators to a scratch buffer (a 1-D f32
    `memref.alloc` marked `xf.scratch_words_per_item`, which xf-gpu-outline-kernels turns into a buffer
    the runtime provides: first one word per work item, zeroed before each launch, where the row blocks'
    arrival counts live, then the partials), fences (`membar.gl`), and lane 0 adds one to the row
    block's count with `memref.atomic_rmw addf`; the warp that completes the count fences again,
    combines every split's partial (each rescaled to the running max) and alone runs the epilogue and
    stores. With affine scaling a
    partial also holds each row's visible-key count and visible-value sums, which add up; ACT's pass
    over the calibrated columns is the combining warp's own. The emulation runs a row block's splits one
    after another in its work item, through the same partial layout and combine.
    The kernel gets `xf.subgroup_lanes = 32`. `mma-form=emulate` emits the same program with
    each warp as one work item whose per-lane values are 32-lane vectors, `mma.sync` computed from the
    fragments by the layouts above and shuffles as vector shuffles: it runs on the CPU, so the numerics
    tests check the form's fragment bookkeeping where no GPU is at hand.

    Before:
    ```mlir
    xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
                 outs(%o : memref<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true}
    ```
    After (abridged):
    ```mlir
    scf.parallel (%w) = (%c0) to (%items) step (%c1) {
      %qt = memref.alloca() {alignment = 64 : i64} : memref<64x32xf32>
      ...                                    // pack Q^T * scale, zero the accumulator
      %r:4 = scf.for %j0 = %lo to %hi step %c64 iter_args(%m0 = %ninf, %m1 = %ninf, %l0 = %zero, %l1 = %zero) -> (vector<16xf32>, ...) {
        ...                                  // z = Q K^T (vector.fma), mask, online softmax (math.exp), acc += P V
      }
      ...                                    // O = acc / l
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"mmaForm", "mma-form", "std::string", "\"\"",
           "the tensor-core form for the ops it takes: simt (CUDA: nvvm.mma.sync per warp), emulate (each "
           "warp one work item of 32-lane vectors, for CPU tests), or empty (off)">,
    Option<"mmaStageKv", "mma-stage-kv", "bool", "true",
           "the tensor-core form double-buffers K/V blocks in workgroup memory, copied with cp.async (false: "
           "fragments load straight from global memory)">,
    Option<"mmaMTiles", "mma-m-tiles", "int64_t", "0",
           "the tensor-core form's m-tiles of 16 rows per warp (1 or 2; 0: 2 for head dims up to 96, else 1): "
           "with 2 every K and V fragment loaded from shared memory feeds two multiplies, at the cost of "
           "registers">,
    Option<"mmaSplitMinKeys", "mma-split-min-keys", "int64_t", "256",
           "the tensor-core form splits a warp's keys over up to 64 warps (split-K) while every split keeps at "
           "least this many keys (0: never split)">,
    Option<"vectorWidth", "vector-width", "int64_t", "16", "f32 lanes per vector (16: AVX-512, 8: AVX2/NEON x2)">,
    Option<"blockQ", "block-q", "int64_t", "32", "query rows per work item (a multiple of vector-width)">,
    Option<"blockK", "block-k", "int64_t", "64", "keys per key block (a multiple of key-regs)">,
    Option<"keyRegs", "key-regs", "int64_t", "8", "keys held in registers at once while computing scores">,
    Option<"valueRegs", "value-regs", "int64_t", "8", "value columns held in registers at once while accumulating P V">,
    Option<"decodeForm", "decode-form", "bool", "false",
           "also emit the decode form (head dim on the lanes, one work item per (batch, kv head)), taken at "
           "run time when S <= decode-rows">,
    Option<"decodeRows", "decode-rows", "int64_t", "8", "the largest query count S that takes the decode form">,
    Option<"decodeBlockK", "decode-block-k", "int64_t", "32",
           "keys per key block of the decode form (a multiple of vector-width; 32 keys of K and V stay in L1 "
           "while every row of the group reads them)">,
    Option<"workgroupRows", "workgroup-rows", "int64_t", "0",
           "GPU targets: stage each key block of K and V in workgroup memory shared by this many consecutive "
           "work items of one (batch, head) (0: every work item reads K and V itself)">,
    Option<"subgroupLanes", "subgroup-lanes", "int64_t", "0",
           "GPU targets: also emit the subgroup form, in which this many consecutive work items (lanes of one "
           "subgroup) share a query row, taken at run time when S <= subgroup-rows (0: no subgroup form)">,
    Option<"subgroupRows", "subgroup-rows", "int64_t", "16", "the largest query count S that takes the subgroup form">,
    Option<"subgroupSplits", "subgroup-splits", "int64_t", "1",
           "GPU targets: in the subgroup form, this many subgroups of one workgroup share a query row, each "
           "taking a contiguous share of its key blocks, and combine their partial softmax states in workgroup "
           "memory (1: one subgroup per row)">,
    Option<"subgroupGlobalSplits", "subgroup-global-splits", "int64_t", "1",
           "CUDA: in the subgroup form, this many subgroups anywhere in the launch share a query row, each "
           "taking a contiguous share of its key blocks; the last to finish (an atomic count in scratch) "
           "combines their partial states from scratch (1: no global split; excludes subgroup-splits)">,
    Option<"staticKeyLoops", "static-key-loops", "bool", "false",
           "P V runs over all block-k keys of a key block (padding keys have p = 0), so its loop has a constant "
           "trip count; GPU targets set it, and xf-gpu-outline-kernels unrolls such loops">,
    Option<"workgroupMemory", "workgroup-memory", "int64_t", "16384",
           "bytes of workgroup memory the staged K and V tiles may take (block-k shrinks to fit; 16 KiB is "
           "what every Vulkan device offers)">,
  ];
}

def XFGpuOutlineKernels : Pass<"xf-gpu-outline-kernels", "ModuleOp"> {
  let summary = "Outline the work loop of every xf kernel into a GPU kernel with a flat buffer ABI";
  let description = [{
    For every function marked `xf.kernel` whose body is one top-level one-dimensional `scf.parallel`
    (what `xf-lower-attention` and `xf-lower-moh-router` leave), this pass adds a `gpu.module
    @<name>_gpu` holding `gpu.func @<name>`, in which one GPU thread runs one work item:

    - every operand becomes a flat `memref<?xT>` (a storage buffer; binding = operand index), and
      every load and store on it indexes the flat buffer with the row-major linear index;
    - every dynamic dimension of every operand becomes an `i32` argument, in operand order and then
      dimension order (the push constants on Vulkan, descriptor set 1), so `memref.dim` is a load of
      a kernel argument;
    - the work item is `block_id.x * workgroup-size + thread_id.x`, guarded against the item count;
    - per-item scratch (`memref.alloca`) moves to the function entry (one thread runs one item) and,
      for Vulkan, into the `Function` storage class;
    - buffers shared by the workgroup (`memref.alloc` in `#gpu.address_space<workgroup>`, the staged K/V
      tiles of `xf-lower-attention`) become, for Vulkan, allocs in the `Workgroup` storage class at the
      function entry (SPIR-V `Workgroup` variables) and, for CUDA, workgroup attributions of the
      `gpu.func` (PTX `.shared`);
    - a kernel function carrying `xf.workgroup_size = N` (its work items share workgroup memory) gets
      workgroups of `N` threads whatever `workgroup-size` says.
    - a kernel function carrying `xf.subgroup_lanes = L` (runs of `L` consecutive work items shuffle
      values among themselves: the subgroup form of `xf-lower-attention`) needs `L` to divide the
      workgroup size, and on CUDA `L = 32`, since NVVM's shuffles synchronize the whole warp; for Vulkan
      its target environment adds `GroupNonUniformShuffle` and declares subgroups of `L` (the shuffles'
      width: SPIR-V xor shuffles within `L` lanes work on any device whose subgroups are at least that
      large), and the launch description records `subgroup_lanes` for the runtime to check the device.
    - CUDA only: scratch the work items share (a 1-D f32 `memref.alloc` before the loop marked
      `xf.scratch_words_per_item = W` and `xf.scratch_zeroed_words_per_item = Z`, the tensor-core form's
      split-K partials) becomes a buffer argument after the operands; the launch records both, and the
      runtime passes a buffer of `W` words per work item whose first `Z` per work item it zeroes before
      each launch (only what must start at zero: zeroing all of it would cost a decode step a memset as
      large as the partials). Any other alloc before the loop is an error.
    - the `gpu.func` gets `xf.read_only_buffers` (the operands before the output), which
      `xf-cuda-kernel-noalias` marks read-only; the output and scratch are written.
    - attention's `key` and `value` (named by `xf.operand_names`, `[B, Hkv, T, D]` with `T` dynamic)
      are indexed with a row pitch passed at launch instead of `T`: one more `i32` argument each, after
      the dynamic dimensions. A KV cache allocated for more rows than it holds (`[Hkv, capacity, D]`) is
      then read in place; a dense call passes `T`.

    The host function keeps its body (the kernel ABI pass derives the work-item counter from it) and
    gets `xf.gpu_kernel = {entry, workgroup_size, push_constants, pitches}` for the runtime's metadata
    (`push_constants` and `pitches` list `[operand, dim]` pairs in argument order; `pitches` only where
    there are some).

    `target=vulkan` also attaches the SPIR-V target environment and ABI attributes, narrows 64-bit
    integers and index scratch to i32 and rewrites what the SPIR-V conversion cannot take (constant
    tables wider than 4 lanes, zero-trip loops with results). `target=cuda` leaves the kernel as is
    for `convert-gpu-to-nvvm` (see `xf-cuda-serialize`).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::spirv::SPIRVDialect",
                           "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
  let options = [
    Option<"target", "target", "std::string", "\"vulkan\"", "vulkan or cuda">,
    Option<"workgroupSize", "workgroup-size", "int64_t", "64", "threads (work items) per workgroup">,
  ];
}

def XFAddDenseKernels : Pass<"xf-add-dense-kernels", "ModuleOp"> {
  let summary = "Add the dense ops of a model (matmul, RMSNorm, RoPE, gated activations, adds, embedding) as xf kernels";
  let description = [{
    Adds shape-generic kernels, already in lowered form (memrefs, one `scf.parallel`), that GPU targets
    run a model's dense ops with (the CPU uses its Halide kernels instead):

    | kernel | operands | work item |
    |---|---|---|
    | `@xf_dense_matmul` | input `[M, K]`, weight `[N, K]` (nn.Linear's layout), output `[M, N]` | `L` lanes: one output column of up to 4 rows |
    | `@xf_dense_matmul_bf16` | input `[M, K]`, weight `[N, ceil(K/2)]`: bf16 pairs of inputs 2p, 2p + 1 in 32-bit words (2p in the low half), output `[M, N]` | `L` lanes: one output column of up to 4 rows |
    | `@xf_dense_matmul_tiled`, `_tiled_bf16` (with `tiles`) | as `@xf_dense_matmul` and `_bf16` | one of 128 threads of a 64 x 64 output tile |
    | `@xf_dense_route_groups` (with `tiles`) | routes `[R, 2]`, output `[E, R + 1]`: per expert the count of routes to it, then those rows in order | one expert |
    | `@xf_dense_matmul_grouped`, `_grouped_bf16` (with `tiles`) | as the routed products, with groups `[E, R + 1]` (from `@xf_dense_route_groups`) instead of the routes | one of 128 threads of a tile of 64 of one expert's rows x 64 outputs |
    | `@xf_dense_rms_norm` | input `[M, C]`, weight `[C]`, params `[eps, weight offset]`, output | one row |
    | `@xf_dense_gated_rows_acc` | input `[M, N]`, gate `[M, 1]`, output `[M, N]` += `sigmoid(gate[m]) * input[m, :]` (Qwen2-MoE's gated shared expert) | one element |
    | `@xf_dense_rows_acc` | input `[M, N]`, output `[M, N]` += input (a shared expert without a gate) | one element |
    | `@xf_dense_layer_norm` | input `[M, C]`, weight `[C]`, bias `[C]`, params `[eps]`, output: nn.LayerNorm of each row (StableLM) | one row |
    | `@xf_dense_rms_norm_cols` | weight `[N]`, params `[eps, weight offset, first, center]`, in place on `[M, C]`: columns `[first, first + N)` of each row, an RMSNorm or with center 1 a LayerNorm without bias (OLMo 2's q and k norms inside the fused q, k, v rows) | one row |
    | `@xf_dense_rope` | input `[S, H, D]`, cos `[S, R/2]`, sin `[S, R/2]`, output (rotate-half on the first `R <= D` dims) | one pair or passed-through dim |
    | `@xf_dense_silu_gate` | gate `[N]`, up `[N]`, output `silu(gate) * up` | one element |
    | `@xf_dense_add` | lhs `[N]`, rhs `[N]`, output | one element |
    | `@xf_dense_embed` | ids `[S]` (f32), table `[V, C]`, output `[S, C]` | one element |
    | `@xf_dense_gelu_tanh_gate` | gate `[N]`, up `[N]`, output `gelu_tanh(gate) * up` | one element |
    | `@xf_dense_gelu_gate` | gate `[N]`, up `[N]`, output `gelu(gate) * up`, GELU exact to float precision without erf (erfc from a Chebyshev fit and two exps) | one element |
    | `@xf_dense_silu`, `@xf_dense_gelu_tanh`, `@xf_dense_gelu` | input `[N]`, output `f(input)`: MLPs without a gate (Starcoder 2, GPT-NeoX) | one element |
    | `@xf_dense_bias_add` | input `[M, N]`, bias `[N]`, output | one element |
    | `@xf_dense_scale` | input `[N]`, factor `[1]`, output | one element |
    | `@xf_dense_clamped_swiglu` | gate `[N]`, up `[N]`, params `[alpha, limit]`, output (gpt-oss) | one element |
    | `@xf_dense_slice_cols` | input `[M, N]`, params `[offset]`, output `[M, C]`: columns `[offset, offset + C)` | one element |
    | `@xf_dense_transpose01` | input `[A, B, C]`, output `[B, A, C]` | one element |
    | `@xf_dense_topk_softmax` | logits `[S, E]`, params `[K, norm]`, routes `[S * K, 2]`: per token its K experts (ties to the lower) and their softmax weights, over the K chosen logits (norm 1) or over all E (norm 0) | one token |
    | `@xf_dense_matmul_routed`, `_bf16` | input `[M, K]`, weight `[E, N, K]` (or bf16 pairs `[E, N, ceil(K/2)]`), routes `[R, 2]`, params `[per]`, output `[R, N]`: row `r` is input row `r / per` times expert `routes[r, 0]`'s weights | `L` lanes: one output |
    | `@xf_dense_bias_add_routed` | input `[R, N]`, bias `[E, N]`, routes `[R, 2]`, output: each row plus its expert's bias | one element |
    | `@xf_dense_moe_combine` | input `[R, N]`, routes `[R, 2]`, output `[S, N]`: per token the sum of its `R / S` rows by their weights | one output |
    | `@xf_dense_cache_store`, `_bf16`, `_f16` | input `[S, H, D]`, params `[base]`, output: a KV cache `[H, C, D]` of that element type, whose rows `[base, base + S)` get the input rounded to it (the others stay) | one element |

    Each carries `xf.kernel_info = {kind = "dense_<op>"}`; the runtime checks the shapes between
    operands before a call.

    The products split each output's reduction across `L = subgroup-lanes` consecutive work items, lanes
    of one subgroup (the kernels get `xf.subgroup_lanes = L`, which the runtime checks against the
    device): lane `l` sums the input pairs `(2p, 2p + 1)` for `p = l, l + L, ...`, and xor shuffles add
    the lanes' sums. The lanes of an output thus read consecutive words of its weight row together, and a
    decode step (`M = 1`) has `N * L` threads rather than `N`, each streaming a strided column. An item of
    the plain products covers up to 4 rows of its column (one row at `M = 1`), so the rows share each
    weight word. `L = 0` (the default, and the CPU) gives one work item per output column and rows.

    With `tiles`, `@xf_dense_matmul_tiled` and `@xf_dense_matmul_tiled_bf16` compute the same products
    as `@xf_dense_matmul` and `_bf16` (same operands and kinds) for many rows: workgroups of 128 threads
    each own a 64 x 64 tile of the output, stage 16 inputs of its rows of x and columns of W at a time in
    workgroup memory between two barriers, and accumulate 4 x 8 outputs per thread, so each weight is
    read once per 64 rows. The grouped products do the same for MoE experts over the rows routed to
    each (a workgroup gathers 64 of one expert's rows; tiles past its count return at once). The
    runtime takes both for prefill. The plain and tiled products (and the bf16 dot below) also come as
    `_acc` kernels that add the product to the output (`y += x W^T`: a residual added in the epilogue),
    and the subgroup-form products as `_norm` kernels that RMS-normalize x's rows inside the product
    (operands `gain` and `params` [eps, gain offset]: each lane also sums its inputs' squares, and the
    row's scale multiplies the finished sum).
    `@xf_dense_qkv_query`, `_key` and `_value` (with `_norm` and per cache element type) take a stacked
    `q | k | v` projection to attention's queries `[H, S, D]` and to the KV cache's rows, with qk-norm and
    RoPE on the way; `@xf_dense_silu_gate_stacked`, `@xf_dense_gelu_tanh_gate_stacked` and
    `@xf_dense_gelu_gate_stacked` read one
    product's `[gate | up]` rows. `@xf_dense_round_bf16` rounds rows to bf16 pairs (nearest even) and
    `@xf_dense_dot_bf16` multiplies two such operands with f32 sums, one work item per output: on CUDA
    the runtime hands the latter to cuBLAS's bf16 GEMM (`xf-run --dot bf16`), so the compiled form is its
    reference. The products carry
    `weights = "out_in"` in their kernel info, which the runtime requires (modules from before the
    layout change fail to run rather than compute with transposed weights).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"];
  let options = [
    Option<"subgroupLanes", "subgroup-lanes", "int64_t", "0",
           "lanes of one subgroup per output of the products (0 or a power of two; 0: one work item per output)">,
    Option<"tiles", "tiles", "bool", "false",
           "also add the workgroup-tiled products for many rows (GPU targets only: workgroup memory and barriers)">,
  ];
}

def XFConvertGpuToSpirv : Pass<"xf-convert-gpu-to-spirv", "ModuleOp"> {
  let summary = "Convert the outlined xf GPU kernels to spirv.module ops";
  let description = [{
    The conversion of upstream `convert-gpu-to-spirv` (the `gpu.module` becomes a `spirv.module`, the
    `gpu.func` an entry point whose arguments become interface variables) with the `math`, `scf` and
    `ub` patterns added, which attention kernels need. Memory spaces map to Vulkan storage classes
    first. The `gpu.module` is converted in place.

    16-bit operands: f16 buffers stay f16 (16-bit storage, `Float16`; narrower types are not widened to 32
    bits, which would misread them). bf16 has no SPIR-V type the target takes, so bf16 buffer arguments
    become i16 buffers first: a load must feed `arith.extf` to f32 (directly or through a
    `vector.broadcast`) and becomes the word shifted into the high half of an f32; a stored value must be
    a constant or `arith.truncf` of an f32 and becomes its bits rounded to nearest even (NaN stays NaN).
    Any other use is an error.
  }];
  let dependentDialects = ["::mlir::spirv::SPIRVDialect"];
}

def XFVulkanSerialize : Pass<"xf-vulkan-serialize", "ModuleOp"> {
  let summary = "Move kernel arguments into one push-constant block and embed each SPIR-V module";
  let description = [{
    Runs after `convert-gpu-to-spirv` and `spirv-lower-abi-attrs`. In every `spirv.module`, the
    global variables of descriptor set 1 (the scalar kernel arguments that `xf-gpu-outline-kernels`
    made) are merged, in binding order, into one `PushConstant` block of `i32` members. The module is
    then serialized to SPIR-V words and stored as the LLVM global `xf_spirv_<kernel>`; the host
    function's `xf.gpu_kernel` records the symbol and its size in bytes. The `spirv.module` and
    `gpu.module` ops are erased.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::spirv::SPIRVDialect"];
}

def XFCudaKernelNoAlias : Pass<"xf-cuda-kernel-noalias", "ModuleOp"> {
  let summary = "Mark the buffers of converted CUDA kernels noalias, and the inputs read-only";
  let description = [{
    Runs after `convert-gpu-to-nvvm{index-bitwidth=32}` on the outlined xf kernels (`llvm.func`s with
    `nvvm.kernel`). Each buffer parameter is a memref descriptor `(allocated, aligned, offset, size,
    stride)`; the aligned pointer, through which every load and store goes, gets `llvm.noalias`, and
    for every buffer but the last (the output) `llvm.readonly`. That is what the runtime guarantees (one
    device buffer per operand; kernels write only their output) and what lets the NVPTX backend load the
    inputs through the read-only data cache (`ld.global.nc`). `convert-gpu-to-nvvm` itself copies
    `llvm.noalias` only to bare pointers, which need static shapes. A kernel from
    `xf-gpu-outline-kernels` says how many buffers are read-only (`xf.read_only_buffers`); a buffer after
    its output is scratch shared by the work items (the tensor-core form's split-K partials), whose loads
    become volatile: a warp reads other warps' partials after their fence and count, past the
    non-coherent L1.

    Before:
    ```mlir
    llvm.func @k(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i32, %a3: i32, %a4: i32,
                 %o0: !llvm.ptr, %o1: !llvm.ptr, %o2: i32, %o3: i32, %o4: i32, %n: i32) attributes {nvvm.kernel}
    ```
    After:
    ```mlir
    llvm.func @k(%a0: !llvm.ptr, %a1: !llvm.ptr {llvm.noalias, llvm.readonly}, %a2: i32, %a3: i32, %a4: i32,
                 %o0: !llvm.ptr, %o1: !llvm.ptr {llvm.noalias}, %o2: i32, %o3: i32, %o4: i32, %n: i32) attributes {nvvm.kernel}
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def XFCudaSerialize : Pass<"xf-cuda-serialize", "ModuleOp"> {
  let summary = "Embed each kernel's PTX, one image per target architecture, in the host module";
  let description = [{
    Runs after `gpu-module-to-binary{format=isa}` (the CUDA pipeline attaches `#nvvm.target`s for sm_80
    and sm_90 and converts the outlined kernels with `convert-gpu-to-nvvm{index-bitwidth=32}`). Every
    `gpu.binary @<kernel>_gpu` holds one PTX object per target; each becomes the NUL-terminated LLVM
    global `xf_ptx_<kernel>_sm<NN>` (what `cuModuleLoadData` takes), and the host function's
    `xf.gpu_kernel` lists them as `ptx = [{arch, symbol, size} ...]`, which `xf-cpu-kernel-abi` copies into
    the kernel's `"gpu"` metadata. The runtime loads the image of the highest architecture that does not
    exceed the device's compute capability.

    Kernel parameters follow MLIR's memref convention at 32-bit index width: per operand buffer
    `(allocated ptr, aligned ptr, i32 offset, i32 size, i32 stride)`, then one `i32` per dynamic
    operand dimension (the `push_constants` of the metadata), then one per row pitch (its `pitches`).

    Before:
    ```mlir
    module attributes {gpu.container_module} {
      func.func @attn(...) attributes {xf.gpu_kernel = {entry = "attn", push_constants = [...], workgroup_size = 64 : i64}, xf.kernel} {...}
      gpu.binary @attn_gpu [#gpu.object<#nvvm.target<O = 3, chip = "sm_80">, assembly = "...">,
                            #gpu.object<#nvvm.target<O = 3, chip = "sm_90">, assembly = "..."> ]
    }
    ```
    After:
    ```mlir
    module {
      func.func @attn(...) attributes {xf.gpu_kernel = {entry = "attn", ptx = [{arch = 80 : i64, size = 9000 : i64, symbol = "xf_ptx_attn_sm80"}, {arch = 90 : i64, ...} ], ...}, xf.kernel} {...}
      llvm.mlir.global external constant @xf_ptx_attn_sm80("//\0A// Generated by LLVM NVPTX Back-End...\00")
      llvm.mlir.global external constant @xf_ptx_attn_sm90(...)
    }
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def XFCpuKernelABI : Pass<"xf-cpu-kernel-abi", "ModuleOp"> {
  let summary = "Give xf kernel functions the CPU runtime's work-range ABI and describe them for the runtime";
  let description = [{
    For every function marked `xf.kernel` whose body is one top-level `scf.parallel` (as
    `xf-lower-attention` leaves it), this pass
    - appends two `index` arguments `%begin, %end` and turns the parallel loop into an `scf.for` over
      the work items in `[begin, end)`, so the runtime's thread pool can hand out ranges;
    - adds `@<name>_work_items`, which returns the number of work items for the given operands;
    - marks both `llvm.emit_c_interface`;
    - emits the global `xf_module_info`: a JSON description of every kernel (operands and their static
      shapes, attention attributes) that the runtime reads when it opens the artifact. A module
      attribute `xf.model_plan` (a JSON string that `xfc` derives from a model spec: sizes, norms, MLP,
      RoPE frequencies, the kernel of each layer) is copied into it under `"model"`.

    Before:
    ```mlir
    func.func @attn(%q: memref<?x4x?x64xf32>, ...) attributes {xf.kernel, xf.attention_info = {...}} {
      %n = ...
      scf.parallel (%w) = (%c0) to (%n) step (%c1) { ... }
      return
    }
    ```
    After:
    ```mlir
    func.func @attn(%q: memref<?x4x?x64xf32>, ..., %begin: index, %end: index) attributes {llvm.emit_c_interface, ...} {
      %n = ...
      %lo = arith.maxsi %begin, %c0 : index
      %hi = arith.minsi %end, %n : index
      scf.for %w = %lo to %hi step %c1 { ... }
      return
    }
    func.func @attn_work_items(%q: memref<?x4x?x64xf32>, ...) -> index attributes {llvm.emit_c_interface} {
      %n = ...
      return %n : index
    }
    llvm.mlir.global external constant @xf_module_info("{\22format\22:1,...}\00")
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
                           "::mlir::LLVM::LLVMDialect"];
  let options = [
    Option<"target", "target", "std::string", "\"cpu\"",
           "the artifact's target: cpu, or vulkan/cuda, where the kernels run as GPU kernels (see "
           "xf-gpu-outline-kernels) and only the work-item counters stay host code">,
  ];
}

def XFApproximateMath : Pass<"xf-approximate-math"> {
  let summary = "Replace math.exp, math.tanh, ... with vectorizable polynomial approximations";
  let description = [{
    LLVM lowers `math.exp` on vectors to one libm call per lane. The online softmax exponentiates every
    score, so the CPU pipeline rewrites the transcendental functions that attention uses (`exp`, `exp2`,
    `tanh`, `log`, `erf`) into MLIR's upstream polynomial approximations, which stay in vector registers.
    The approximations are accurate to a few ulp on f32 and map `exp(-inf)` to 0, which masking relies on.

    Before:
    ```mlir
    %p = math.exp %x : vector<16xf32>
    ```
    After: a polynomial over `%x` built from `arith` and `math.fma`/`vector` ops (no calls).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"];
}

def XFAttentionSinks : Pass<"xf-attention-sinks", "ModuleOp"> {
  let summary = "Attention sinks: learned sink logits (gpt-oss) or StreamingLLM sink tokens";
  let description = [{
    `mode=learned` gives every `xf.attention` of a kernel a per-head sink logit operand `sinks` ([H],
    added as a kernel argument before the output): `P[i,j] = exp(z[i,j]) / (exp(s[h]) + sum_j' exp(z[i,j']))`.
    The kernel starts each row's running max at `s[h]` with denominator 1, so the sink costs nothing per
    key. Calls of the kernel from `@prefill`/`@decode` pass the layer's sink logits, the weight
    `model.layers.N.self_attn.sinks` (added to the calling function's weights). The pass runs on the
    module because it edits those callers too.

    `mode=streaming` keeps the first `sink-tokens` keys visible besides a window of `window` keys
    (StreamingLLM): it sets `sink_tokens` and `window` (the op's own window when `window=0`). The lowering
    visits only the two key ranges. The cache-slot positions StreamingLLM applies RoPE at are a property of
    the KV cache the runtime keeps (`sink_tokens` + `window` is its policy), not of this kernel.

    Before:
    ```mlir
    func.func @attn(%q: tensor<1x8x?x64xf32>, %k: ..., %v: ..., %o: tensor<1x8x?x64xf32>) -> ... {
      %r = xf.attention ins(%q, %k, %v : ...) outs(%o : ...) {num_heads = 8, ...}
    ```
    After `--xf-attention-sinks=mode=learned`:
    ```mlir
    func.func @attn(%q: ..., %k: ..., %v: ..., %sinks: tensor<8xf32>, %o: ...) -> ... {
      %r = xf.attention ins(%q, %k, %v : ...) sinks(%sinks : tensor<8xf32>) outs(%o : ...) {...}
    ```
    After `--xf-attention-sinks="mode=streaming sink-tokens=4 window=1020"`:
    ```mlir
      %r = xf.attention ins(...) outs(...) {..., sink_tokens = 4, window = 1020}
    ```

    `mode=calibrated` applies ACT's training-free sink calibration on `heads`: the attention mass of the
    key columns `keys` is scaled by `beta` and the other columns are renormalized so rows still sum to 1.
    The kernel keeps split accumulators for the calibrated columns, so the cost is one extra small pass
    per calibrated head. The columns come from the spec (detection over a prefill is done offline).
    After `--xf-attention-sinks="mode=calibrated keys=1,2 heads=0,3 beta=0.4"`:
    ```mlir
      %r = xf.attention ins(...) outs(...) {calibrated_heads = array<i64: 0, 3>, calibrated_keys = array<i64: 1, 2>, calibration_beta = 0.4 : f64, ...}
    ```
  }];
  let options = [
    Option<"mode", "mode", "std::string", "\"learned\"", "learned | streaming | calibrated">,
    Option<"sinkTokens", "sink-tokens", "int64_t", "4", "streaming: sink tokens kept at the start">,
    Option<"window", "window", "int64_t", "0", "streaming: recent keys kept (0: the op's window)">,
    ListOption<"keys", "keys", "int64_t", "calibrated: the sink key columns S (>= 1)">,
    ListOption<"heads", "heads", "int64_t", "calibrated: the query heads to calibrate">,
    Option<"beta", "beta", "double", "0.4", "calibrated: the factor on the sink columns' mass">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect"];
}

def XFHeadModulation : Pass<"xf-head-modulation", "func::FuncOp"> {
  let summary = "Head modulation: per-head output gains and key-token emphasis";
  let description = [{
    Per-head gains: `O'[h] = g[h] * O[h]` with `g = gain` on `heads` and 1 elsewhere (VHR-style
    reinforcement uses gain 2). The gains become the op's `gates` ([H], a constant), applied in the
    kernel's epilogue.

    Token emphasis (PAINT-style): `z' = z + a * |z|` for keys `j` in `emphasis-keys`, on every query row or
    (`emphasis-rows=last`) only the last one, `i == t - 1` with the region's key-count argument `t`; a
    score modifier composed after any existing `score` region, so it fuses before the softmax.

    Before:
    ```mlir
    %r = xf.attention ins(%q, %k, %v : ...) outs(%o : ...) {num_heads = 4, ...}
    ```
    After `--xf-head-modulation="heads=1,3 gain=2.0 emphasis-keys=0 emphasis=0.7"`:
    ```mlir
    %g = arith.constant dense<[1.0, 2.0, 1.0, 2.0]> : tensor<4xf32>
    %r = xf.attention ins(%q, %k, %v : ...) gates(%g : tensor<4xf32>) outs(%o : ...) {...}
    score {
    ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
      %abs = math.absf %z : f32
      %e = arith.mulf %abs, %c0.7 : f32
      %ze = arith.addf %z, %e : f32
      %hit = arith.cmpi eq, %j, %c0 : index
      %s = arith.select %hit, %ze, %z : f32
      xf.yield %s : f32
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let options = [
    ListOption<"heads", "heads", "int64_t", "query heads whose output is scaled by gain">,
    Option<"gain", "gain", "double", "2.0", "output gain of the selected heads">,
    ListOption<"emphasisKeys", "emphasis-keys", "int64_t", "key positions whose scores are emphasized">,
    Option<"emphasis", "emphasis", "double", "0.7", "a in z' = z + a |z| (0.7 local, 0.3 summary tokens)">,
    Option<"emphasisRows", "emphasis-rows", "std::string", "\"all\"",
           "all | last: emphasize on every query row or only the last one (i == T - 1)">,
  ];
}

def XFAffineScale : Pass<"xf-affine-scale", "ModuleOp"> {
  let summary = "Affine-scaled attention: input-dependent scale and bias on the softmax weights";
  let description = [{
    `Attn = (alpha(X) * softmax(QK^T/sqrt(d)) + beta(X)) V` with `alpha = phi(W_a X)` per (token, head),
    `beta = (alpha_ma - alpha) / N_i`: adds the kernel arguments `alpha` ([B, H, S], the pre-activation
    `W_a X`) and `alpha_ma` ([H], the frozen moving average) and sets `alpha_activation` (phi). The kernel
    keeps one extra, un-rescaled value-sum accumulator and the visible-key count per row and finishes
    `O = alpha * softmax V + (alpha_ma - alpha) * mean_visible V` in its epilogue. Calls of the kernel
    from `@prefill`/`@decode` compute `alpha` from the layer's attention input with the weight
    `model.layers.N.self_attn.alpha_proj.weight` ([H, hidden]) and pass `model.layers.N.self_attn.alpha_ma`;
    the pass runs on the module because it edits those callers too.

    Before:
    ```mlir
    %r = xf.attention ins(%q, %k, %v : ...) outs(%o : ...) {...}
    ```
    After:
    ```mlir
    %r = xf.attention ins(%q, %k, %v : ...) affine(%alpha, %alpha_ma : tensor<1x8x?xf32>, tensor<8xf32>)
           outs(%o : ...) {alpha_activation = "linear_clip", ...}
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"activation", "activation", "std::string", "\"linear_clip\"",
           "phi: linear_clip (clamp(0.1x + 0.5, 0, 1)) | sigmoid | none (alpha is given directly)">,
  ];
}

def XFMixtureOfHeads : Pass<"xf-mixture-of-heads", "ModuleOp"> {
  let summary = "Mixture-of-head attention: a router kernel and per-token head gates";
  let description = [{
    For every attention kernel `@NAME`, adds the per-token head gates (`gates`, [B, H, S]) as a kernel
    argument and a router kernel `@NAME_router(input [B, S, hidden], w_routed [H - shared, hidden],
    w_shared [shared, hidden], w_head [2, hidden], gates [B, H, S])` holding `xf.moh_router`. The router
    depends only on the attention input, so it runs first; the attention kernel then works only on the
    (token, head) pairs whose gate is non-zero: rows are gathered per head, and a head with no active row
    in a block costs nothing. Calls of the kernel from `@prefill`/`@decode` first call the router on the
    layer's attention input with the weights `model.layers.N.self_attn.moh_router.{w_routed, w_shared,
    w_head}` and pass its gates.

    Before:
    ```mlir
    func.func @attn(%q: tensor<1x8x?x64xf32>, %k: ..., %v: ..., %o: tensor<1x8x?x64xf32>) -> ... {xf.kernel}
    ```
    After `--xf-mixture-of-heads="shared-heads=2 top-k=3 hidden=512"`:
    ```mlir
    func.func @attn(%q: ..., %k: ..., %v: ..., %gates: tensor<1x8x?xf32>, %o: ...) -> ... {xf.kernel} {
      %r = xf.attention ins(%q, %k, %v : ...) gates(%gates : tensor<1x8x?xf32>) outs(%o : ...) {...}
    }
    func.func @attn_router(%x: tensor<1x?x512xf32>, %wr: tensor<6x512xf32>, %ws: tensor<2x512xf32>,
                           %wh: tensor<2x512xf32>, %g: tensor<1x8x?xf32>) -> tensor<1x8x?xf32> {xf.kernel} {
      %r = xf.moh_router ins(%x, %wr, %ws, %wh : ...) outs(%g : ...) {shared_heads = 2, top_k = 3}
    }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"sharedHeads", "shared-heads", "int64_t", "1", "heads [0, shared-heads) are always active">,
    Option<"topK", "top-k", "int64_t", "1", "routed heads active per token">,
    Option<"hidden", "hidden", "int64_t", "0", "features of the attention input (the router's input)">,
  ];
}

def XFLowerMoHRouter : Pass<"xf-lower-moh-router", "func::FuncOp"> {
  let summary = "Lower memref xf.moh_router to a parallel loop over tokens";
  let description = [{
    One work item per token: the three small projections of the token (vectorized dot products over the
    features), the softmaxes, the top-k selection and the gate formula, written into `[B, H, S]`.

    Before:
    ```mlir
    xf.moh_router ins(%x, %wr, %ws, %wh : memref<1x?x512xf32>, ...) outs(%g : memref<1x8x?xf32>) {shared_heads = 2, top_k = 3}
    ```
    After:
    ```mlir
    scf.parallel (%t) = (%c0) to (%tokens) step (%c1) {
      ... // logits = W x (vector.fma + vector.reduction), softmax, top-k, gates
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", "16", "f32 lanes per vector">,
  ];
}

def XFPhaseBoundedRope : Pass<"xf-phase-bounded-rope"> {
  let summary = "Check (or choose) RoPE bases against aliasing, stability and precision bounds";
  let description = [{
    For every `xf.rope`, computes the bounds of VARIANTS.md §5 for the context length `context`, the
    depth `depth`, the op's `rotary_dim` and angles with `mantissa-bits` (fp32: 23):
    - aliasing: `context * base^(-(d-2)/d) < 2 pi`;
    - DC stability through depth: `base >= (context / arccos(eps^(1/depth)))^(d/(d-2))`;
    - precision: `base < 2^mantissa-bits`.
    A base outside the feasible interval is an error (or a warning with `severity=warning`) that names
    every failing bound, the interval and the tolerance. `base = 0` ("auto") is replaced by the geometric
    middle of the interval. The formulas live in `RopeBounds` (passes/RopeBounds.h).

    Before:
    ```mlir
    %r = xf.rope %q, %pos {base = 0.0 : f64, rotary_dim = 128} : ...
    ```
    After `--xf-phase-bounded-rope="context=131072 depth=32"`:
    ```mlir
    %r = xf.rope %q, %pos {base = 3.6e+06 : f64, rotary_dim = 128} : ...
    ```
    and for `base = 10000.0`:
    `error: RoPE base 10000 fails for context 131072, depth 32 (eps 0.1, 23-bit angles): DC stability: ...;
    feasible bases: [464917, 8388608)`.
  }];
  let options = [
    Option<"context", "context", "int64_t", "0", "context length L the model must support">,
    Option<"depth", "depth", "int64_t", "1", "layers N">,
    Option<"eps", "eps", "double", "0.1", "tolerance of the stability bound (xf default 0.1)">,
    Option<"mantissaBits", "mantissa-bits", "int64_t", "23", "mantissa bits of the angle dtype (fp32: 23)">,
    Option<"severity", "severity", "std::string", "\"error\"", "error | warning">,
  ];
}

def XFApplySpecVariants : Pass<"xf-apply-spec-variants", "ModuleOp"> {
  let summary = "Apply the built-in variants a .xf spec or config.json declares on each kernel";
  let description = [{
    The frontend records the built-in variants of a kernel in `xf.variants` (one dictionary per variant,
    with its checked parameters) and model facts in `xf.model` (hidden size, layers, RoPE base and rotary
    dims, context length). This pass applies each variant with the same rewrite its own pass uses:
    `sinks` (learned, streaming, calibrated), `head_modulation`, `mixture_of_heads`, `affine_scale`, and
    checks `phase_bounded_rope` against the model's RoPE base (choosing it when the spec says
    `base = auto`, recorded as `xf.model.rope_base` and written into the `xf.rope` ops of the functions
    that call the kernel). Calls of a kernel from `@prefill`/`@decode` get the operands a variant adds, as
    the variant's own pass gives them. `xfc` runs it on every input.

    Before:
    ```mlir
    // xf.variants holds one dictionary: mode = "learned", name = "sinks"
    func.func @m_attention(...) attributes {xf.kernel, xf.variants = [...]} {
      %r = xf.attention ins(%q, %k, %v : ...) outs(%o : ...) {...}
    ```
    After:
    ```mlir
    func.func @m_attention(%q: ..., %k: ..., %v: ..., %sinks: tensor<64xf32>, %o: ...) attributes {xf.kernel} {
      %r = xf.attention ins(%q, %k, %v : ...) sinks(%sinks : tensor<64xf32>) outs(%o : ...) {...}
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def XFStripModelFunctions : Pass<"xf-strip-model-functions", "ModuleOp"> {
  let summary = "Remove the whole-model functions (@prefill, @decode) before the CPU pipeline";
  let description = [{
    `xfc` generates, for a model, its attention kernels (`xf.kernel`) and the whole-model functions
    `@prefill` and `@decode` (`xf.entry`), which call the kernels. Only the kernels have a lowering so
    far, so the CPU pipeline starts with this pass: it erases every function marked `xf.entry` and
    leaves the kernels (which never call a model function) exactly as they were.

    Before:
    ```mlir
    func.func @m_attention(%q: tensor<?x8x?x64xf32>, ...) -> tensor<?x8x?x64xf32> attributes {xf.kernel} {...}
    func.func @prefill(%tokens: tensor<?x?xi32>, %embed: tensor<1000x512xbf16> {xf.weight = "model.embed_tokens.weight"}, ...)
        -> (tensor<?x?x1000xf32>, ...) attributes {xf.entry = "prefill", ...} {
      ...
      %o = call @m_attention(%q, %k, %v, %init) {xf.layer = 0 : i64} : (...) -> tensor<?x8x?x64xf32>
      ...
    }
    func.func @decode(...) attributes {xf.entry = "decode", ...} {...}
    ```
    After:
    ```mlir
    func.func @m_attention(%q: tensor<?x8x?x64xf32>, ...) -> tensor<?x8x?x64xf32> attributes {xf.kernel} {...}
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // XF_PASSES_TD
