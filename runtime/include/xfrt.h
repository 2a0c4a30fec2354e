/*===- xfrt.h - the xf runtime C API -----------------------------------------===*
 *
 * A C program uses an xf artifact through this API: open a compiled module (a shared library made by
 * `xfc --emit=lib`), create a context (a CPU thread pool), and run its kernels on caller-owned buffers.
 * Errors are values: every call that can fail returns an xfrt_status, NULL on success; a non-NULL status
 * carries a one-line message and must be released with xfrt_status_free.
 *
 * Tensors are dense, row-major (C order) buffers of float32, or of bf16 or f16 where the kernel was compiled
 * for them (an attention spec's `dtype` / `kv_dtype`; xfrt_kernel_operand_dtype says which). Attention kernels take
 *   query  [B, H,   S, D]      key    [B, Hkv, T, D]
 *   value  [B, Hkv, T, Dv]     output [B, H,   S, Dv]
 * where H and Hkv (and D, Dv) are fixed by the compiled spec and B, S, T may vary per call when the spec
 * declares them dynamic.
 *===--------------------------------------------------------------------------===*/
#ifndef XFRT_H
#define XFRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xfrt_status_s *xfrt_status;
typedef struct xfrt_module_s xfrt_module;
typedef struct xfrt_context_s xfrt_context;

#define XFRT_MAX_RANK 8

/* Element types. bf16 and f16 elements are 16-bit words (bf16: the high half of a float32; f16: IEEE binary16). */
typedef enum {
  XFRT_F32 = 0,
  XFRT_BF16 = 1,
  XFRT_F16 = 2,
  /* Not a dtype: keeps the enum 32 bits wide, so that any int32 a caller passes is a value of the type
     (the runtime then refuses it as an unknown dtype) rather than undefined behaviour in C++. */
  XFRT_DTYPE_MAX_ENUM = 0x7fffffff,
} xfrt_dtype;

/* A dense row-major tensor; `data` is owned by the caller. A tensor initialized without `dtype` is float32. */
typedef struct {
  void *data;
  int32_t rank;
  int64_t shape[XFRT_MAX_RANK];
  xfrt_dtype dtype;
} xfrt_tensor;

/* "f32", "bf16" or "f16"; NULL for a value outside the enum. */
const char *xfrt_dtype_name(xfrt_dtype dtype);
/* Bytes per element: 4 or 2; 0 for a value outside the enum. */
size_t xfrt_dtype_size(xfrt_dtype dtype);

/* The message of a failed status (never NULL for a non-NULL status). */
const char *xfrt_status_message(xfrt_status status);
void xfrt_status_free(xfrt_status status);

/* A context owns num_threads - 1 persistent worker threads; the thread calling xfrt_kernel_run is the last
 * one. 0 picks the hardware concurrency; more than 1024 is an error. After each call the workers (and the
 * caller, while it waits for them) spin for about 100 microseconds, so the back-to-back calls of a decode step
 * skip a thread wake-up, and then sleep: an idle context uses no CPU. */
xfrt_status xfrt_context_create(int32_t num_threads, xfrt_context **out);
int32_t xfrt_context_num_threads(const xfrt_context *context);
void xfrt_context_destroy(xfrt_context *context);

/* A context on a device: "cpu" (the same as xfrt_context_create), "vulkan" (the first discrete GPU, else
 * the first integrated one, else the first Vulkan device, e.g. Mesa's lavapipe on the CPU), "vulkan:N"
 * (device N of xfrt_list_devices), "cuda" (CUDA device 0) or "cuda:N". `num_threads` sizes the CPU thread
 * pool every context has (host work, cpu modules). A missing Vulkan loader, CUDA driver (libcuda.so.1,
 * opened at run time; libxfrt links no CUDA library) or device is an error naming what is missing, and so is
 * a CUDA device older than compute capability 8.0. With
 * XF_VULKAN_VALIDATION=1 in the environment the Khronos validation layer checks every Vulkan call, and any
 * message it reports fails the call. */
xfrt_status xfrt_context_create_on(const char *device, int32_t num_threads, xfrt_context **out);
/* "cpu" or the device's name, e.g. "vulkan:0 (llvmpipe (LLVM 15.0.6, 256 bits))", "cuda:0 (NVIDIA H100)". */
const char *xfrt_context_device(const xfrt_context *context);
/* Keeps a device copy of the `bytes` at `data` for the context's GPU device: kernel runs then read that copy
 * instead of copying the array to the device (inputs that stay the same across calls, e.g. weights, or the
 * operands of a timing loop); an operand at the array's start and no larger binds the front of the copy. The
 * caller must not change or free the array until the matching unpin; pins are counted. A no-op on CPU
 * contexts. Outputs are always copied back. */
xfrt_status xfrt_context_pin(xfrt_context *context, const void *data, size_t bytes);
void xfrt_context_unpin(xfrt_context *context, const void *data);
/* The device's own time for the last kernel run on a GPU context, in seconds, measured around the kernel
 * alone (Vulkan timestamps, CUDA events; no copies): -1 on CPU contexts, before any run, where the device
 * has no timestamps, or after a model session's step (whose kernels are queued together, not timed one by
 * one). */
double xfrt_context_last_kernel_seconds(const xfrt_context *context);
/* Every device this runtime can use, one per line ("cpu: N threads", "vulkan:0: NAME (TYPE, Vulkan X.Y.Z)",
 * "cuda:0: NAME (compute capability X.Y, M MiB)"); free *out with xfrt_string_free. A kind of device the
 * machine lacks is listed as "vulkan: none (why)" or "cuda: none (why)". */
xfrt_status xfrt_list_devices(char **out);
void xfrt_string_free(char *text);

/* Loads a module built by `xfc --emit=lib` (a path without '/' is the file in the current directory, not a
 * library-path search). Fails with a message naming the path when the file is missing, is not a shared
 * library, has no `xf_module_info`, or its metadata is malformed, of another format, or for a target other
 * than cpu, vulkan or cuda, or names symbols the library lacks. Closing a module invalidates its names and attributes. */
xfrt_status xfrt_module_open(const char *path, xfrt_module **out);
void xfrt_module_close(xfrt_module *module);
/* The target the module was compiled for: "cpu", "vulkan" or "cuda". */
const char *xfrt_module_target(const xfrt_module *module);
int64_t xfrt_module_num_kernels(const xfrt_module *module);
/* Name of kernel `index` (0 <= index < num_kernels), NULL when out of range. */
const char *xfrt_module_kernel_name(const xfrt_module *module, int64_t index);
/* Number of operands (inputs followed by the output) of a kernel, or -1 if there is no such kernel. */
int64_t xfrt_kernel_num_operands(const xfrt_module *module, const char *kernel);
/* Name of operand `index` of a kernel ("query", "key", ...), NULL when out of range. */
const char *xfrt_kernel_operand_name(const xfrt_module *module, const char *kernel, int64_t index);

/* In every kernel query, `kernel` NULL names the module's only kernel (and finds nothing when the module
 * has several). The following let tools such as xf-run size outputs and describe a module without reading
 * its metadata themselves. */

/* The kernel's kind ("attention", ...), or NULL if there is no such kernel. */
const char *xfrt_kernel_kind(const xfrt_module *module, const char *kernel);
/* The compiled shape of operand `index`: writes rank entries to `shape` (-1 for a dynamic dimension; `shape`
 * may be NULL to ask only for the rank) and returns the rank, or -1 if there is no such operand. */
int32_t xfrt_kernel_operand_shape(const xfrt_module *module, const char *kernel, int64_t index,
                                  int64_t shape[XFRT_MAX_RANK]);
/* The element type the kernel was compiled for at operand `index`; -1 if there is no such operand. */
int32_t xfrt_kernel_operand_dtype(const xfrt_module *module, const char *kernel, int64_t index);
/* Attributes are the kernel's metadata keys other than its name, kind, symbols and operands (num_heads,
 * causal, scale, ...), sorted by name. Number of them, or -1 if there is no such kernel. */
int64_t xfrt_kernel_num_attributes(const xfrt_module *module, const char *kernel);
/* Name of attribute `index`, NULL when out of range. */
const char *xfrt_kernel_attribute_name(const xfrt_module *module, const char *kernel, int64_t index);
/* An attribute's value spelled as JSON ("32", "true", "0.08838834764831845"), NULL if absent. */
const char *xfrt_kernel_attribute(const xfrt_module *module, const char *kernel, const char *name);

/* Runs `kernel` (NULL: the module's only kernel): a cpu module on the context's threads, a vulkan module
 * (`xfc --target=vulkan`) on the context's Vulkan device and a cuda module (`xfc --target=cuda`) on its
 * CUDA device, which the context must have. On a GPU the operands are copied to the device and the output
 * back, and each operand must have fewer than 2^31 elements; on CUDA the kernel's PTX image for the
 * device's architecture (sm_90 from compute capability 9.0, else sm_80) is JIT-compiled by the driver on
 * the first call and cached in the context. The rest of this comment is about cpu modules. `operands` holds the kernel's
 * operands in order, output last. Shapes are checked against the compiled spec and against each other
 * before anything runs. `data` may be NULL only for a tensor with no elements. The kernel's work items are
 * handed to the threads in small chunks (dynamic scheduling); the call returns when all are done. Several
 * threads may share a context and module; the pool serves one call at a time. */
xfrt_status xfrt_kernel_run(xfrt_context *context, const xfrt_module *module, const char *kernel,
                            const xfrt_tensor *operands, int64_t num_operands);

/*===------------------------------------------------------------------------===*
 * Models. An artifact compiled from a model spec (`xfc model.xf` or `xfc config.json`) carries a plan of
 * the model; xfrt_model_load binds it to Hugging Face weights and a session runs it: prefill with the
 * prompt, then one token per decode step, the KV cache kept in the session (float32, or bf16 / f16 rows
 * rounded as they are cached when the artifact was compiled with `xfc --kv-dtype`). Batch size 1, float32
 * compute (unless xfrt_model_load_with asks for bf16 or int8 products in the CPU GEMMs).
 *===------------------------------------------------------------------------===*/
typedef struct xfrt_model_s xfrt_model;
typedef struct xfrt_session_s xfrt_session;

/* Loads the weights of the module's model from `weights` (a .safetensors file, a
 * model.safetensors.index.json, or a folder holding either): F32, F16 or BF16 tensors, and gpt-oss experts
 * also as MXFP4 NAME_blocks / NAME_scales pairs (U8: kept packed on the CPU under "auto", else dequantized
 * exactly; GPU targets keep them bf16). Every
 * weight the model needs must be there with the right shape, and nothing else may be (errors name the
 * tensor). The module must outlive the model. */
xfrt_status xfrt_model_load(const xfrt_module *module, const char *weights, xfrt_model **out);
/* As xfrt_model_load, choosing how the projection weights are kept in memory (compute is float32 either way,
 * the kernels widen weights in registers): "auto" (xfrt_model_load's choice) keeps each as its
 * checkpoint stores it, bf16 and f16 included, which is exact and halves the bytes a decode step reads;
 * "f32", "bf16" or "f16" convert every projection (to 16 bits: round to nearest even, an approximation of
 * f32 checkpoints). Norms, biases and sinks stay float32; on the CPU the embedding table stays in a bf16 or
 * f16 checkpoint's type (exact), elsewhere float32. GPU targets keep projections as f32 or bf16 (no "f16"): on
 * Vulkan "auto" keeps a checkpoint that is bf16 throughout as bf16; on CUDA "auto" means
 * f32, which cuBLAS multiplies, and "bf16" runs the products as the compiled bf16 kernel. */
xfrt_status xfrt_model_load_as(const xfrt_module *module, const char *weights, const char *weight_type,
                               xfrt_model **out);
/* As xfrt_model_load_as, also choosing how the CPU prefill GEMMs multiply: "f32" (xfrt_model_load_as's
 * choice: float32 arithmetic on the stored weights) or "bf16", opt-in: every projection but the MoE routers
 * keeps bf16 weights (the checkpoint's, or rounded to nearest even when they are f32 or f16; weight_type must
 * be "auto" or "bf16"), and each prefill GEMM rounds its activations to bf16 (nearest even) once and
 * multiplies bf16 by bf16 with float32 accumulation (AVX512-BF16 vdpbf16ps: exact products, float32 sums in
 * another order). The activations' rounding (2^-9 relative) changes the logits slightly; decode steps (one token)
 * multiply in float32 either way. "bf16" fails with a message on a CPU without AVX512-BF16, on GPU targets,
 * and in builds for other architectures; it never runs an instruction the CPU lacks.
 * "int8", opt-in, CPU only: every projection but the MoE routers (and MXFP4 experts, which keep their codes) is
 * quantized at load, per output row, to int8 codes with a float32 scale max|w| / 127, from whatever weight_type
 * loaded; every product, prefill and decode alike, quantizes each activation row the same way (scale
 * max|x| / 127, round to nearest even), sums the code products exactly in int32 (AVX512-VNNI vpdpbusd) and
 * scales the sum back in float32. A quarter of float32's bytes per decode step; the rounding of weights and
 * activations (up to half a step of max/127 each) changes the logits more than "bf16" does. A row's results
 * do not depend on the other rows, so chunked prefill and decode agree. It fails with a message where the CPU
 * lacks the kernels' ISA (AVX512-VNNI and -BF16), on GPU targets and in builds for other architectures. */
xfrt_status xfrt_model_load_with(const xfrt_module *module, const char *weights, const char *weight_type,
                                 const char *dot_type, xfrt_model **out);
/* Reports a long load's progress: `done` of `total` bytes of checkpoint tensors read, called on the loading
 * thread after each tensor and once more with done == total when every tensor is in; `user` is passed
 * through. */
typedef void (*xfrt_progress_fn)(void *user, int64_t done, int64_t total);
/* As xfrt_model_load_with, calling `progress` (may be NULL) as the weights are read. */
xfrt_status xfrt_model_load_with_progress(const xfrt_module *module, const char *weights, const char *weight_type,
                                          const char *dot_type, xfrt_progress_fn progress, void *user,
                                          xfrt_model **out);
void xfrt_model_free(xfrt_model *model);
int64_t xfrt_model_vocab_size(const xfrt_model *model);
/* The spec's context length (max_position), 0 when it states none. */
int64_t xfrt_model_max_positions(const xfrt_model *model);
/* How the model keeps its projection weights: "f32", "bf16", "f16", "int8" (dot type "int8"), "mxfp4", or
 * "mixed" (some of each, as a checkpoint with mixed types loads under "auto", or an MoE model's float32
 * routers beside int8 projections); NULL for a NULL model. */
const char *xfrt_model_weight_type(const xfrt_model *model);
/* How the model's CPU products multiply: "f32", "bf16" or "int8" (xfrt_model_load_with); NULL for a NULL model. */
const char *xfrt_model_dot_type(const xfrt_model *model);

/* A session holds the KV cache of one sequence. `max_tokens` caps the sequence length (0: the model's
 * context length; one of the two must be set; more than the model's is an error). Sliding-window and
 * streaming-sink layers keep only the keys their window can still see. The model and context must outlive
 * the session. */
xfrt_status xfrt_session_create(xfrt_model *model, xfrt_context *context, int64_t max_tokens, xfrt_session **out);
void xfrt_session_free(xfrt_session *session);
/* Number of tokens consumed so far. */
int64_t xfrt_session_position(const xfrt_session *session);
/* Runs `num_tokens` tokens (a prompt, or the last generated token) through the model at the session's
 * position, appends them to the KV cache and, if `logits` is not NULL, writes the logits of the last one
 * (vocab_size floats). More tokens than the session's prefill chunk go through the model in forwards of
 * that many, so a long prompt's activations stay bounded. An id outside the vocabulary, or a sequence that
 * would pass max_tokens, fails before anything runs and leaves the session unchanged; a failure while
 * running resets the session. */
xfrt_status xfrt_session_run(xfrt_session *session, const int32_t *tokens, int64_t num_tokens, float *logits);
/* The most tokens one forward of xfrt_session_run takes (default 1024; 0: any number in one forward, the
 * activations then grow with the prompt). Chunks give the same results up to float rounding (the GEMMs and
 * attention see other row counts). Fails on a negative count. */
xfrt_status xfrt_session_set_prefill_chunk(xfrt_session *session, int64_t tokens);
int64_t xfrt_session_prefill_chunk(const xfrt_session *session);
/* Forgets the sequence: the next run starts at position 0. */
void xfrt_session_reset(xfrt_session *session);

#ifdef __cplusplus
}
#endif

#endif /* XFRT_H */
