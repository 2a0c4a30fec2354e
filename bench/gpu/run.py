#!/usr/bin/env python3
"""Checks xf's CUDA and Vulkan kernels on a GPU machine; prepared here by bench/gpu/prepare, which says how.

1. `xf-run devices`.
2. Attention numerics, per available target (cuda, vulkan): GQA with a window (prefill, decode, several
   workgroups per head), DSL score/mask modifiers (ALiBi + chunks, prefix-LM, packed documents with a
   softcap), the benchmark kernels at small shapes, also compiled with wider workgroups (CUDA 256
   threads, Vulkan 128: more subgroups split each decode row's keys) and, on CUDA, with a decode row's
   keys split over 16 warps of the launch (`gsplit`); each against the float64 NumPy oracle
   (attention_npy.py, tolerance 1e-4).
   Every variant of VARIANTS.md (learned sinks, streaming, ACT, gains and emphasis, mixture of heads, affine
   scaling, stacked), decode and prefill, against the CPU kernel of the same flags (variant_cases.py).
3. Tiny whole models (llama, mistral bf16, gpt-oss) compiled for each target, 32 greedy steps against the
   float64 reference forward computed when the kit was prepared (logits within 1e-3); on CUDA also mistral
   with `--dot bf16` (its 40-token prefill's projections on cuBLAS's bf16 GEMM; within 5e-2, as on the CPU).
   bf16 kernels on CUDA, in the SIMT form and on tensor cores (`--cuda-tensor-cores`), against the oracle on
   the same bf16 inputs.
4. Timings at the CUDA issue's shapes (B * S = 16k, H * D = 2048, d = 64 and 128, causal and not):
   `xf-run kernel --repeat 5 --resident` per target, at the default workgroup size and wider (`-wide`):
   the kernel's own device time (Vulkan timestamps, CUDA events), and the whole call's in parentheses;
   PyTorch SDPA (FLASH and CUDNN backends, bf16) in the same run; three variants (ALiBi + chunks, a prefix
   LM, a sliding window) against FlexAttention (xf in f32 and, on CUDA, in bf16 on tensor cores like
   Flex); decode attention at T = 32768 in K/V GB/s against the device's copy bandwidth (f32 with its
   workgroup, wide and gsplit splits, and on CUDA bf16 in both forms, tensor cores with and without
   split-K).
5. The projections' products at a 7B model's shapes, bf16 weights (the tiny models check them at small ones):
   decode (M = 1, the subgroup form) in weight GB/s against the copy bandwidth, prefill (M = 512, the
   workgroup-tiled form) in TFLOP/s, each checked against NumPy; torch's bf16 F.linear (cuBLAS) beside them.
6. A whole model: the ~100M-parameter llama of bench/run_model_bench (bf16 weights generated on the device),
   a 128-token prompt and 128 decode steps per target (cuda-tc: a bf16 KV cache, attention on tensor cores;
   cuda-dot: `--dot bf16`, the prefill's projections on cuBLAS's bf16 GEMM):
   prefill and decode tokens/s, and decode's weight bytes per step over its time.
Writes everything to $OUT/gpu-report.txt (or ./gpu-report.txt) and prints it as it goes. Every step is
bounded by what is left of XF_GPU_BUDGET_S seconds (default 440, inside the device call's 500); a step that
times out is reported as such, and when the budget runs out the report says what was skipped.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
XF = os.path.join(HERE, "bin", "xf-run")
REPORT = os.path.join(os.environ.get("OUT") or HERE, "gpu-report.txt")
lines = []


def log(text=""):
    print(text, flush=True)
    lines.append(text)
    with open(REPORT, "w") as f:
        f.write("\n".join(lines) + "\n")


# The device tool stops the whole command at its limit (500 s in the documented call): every step gets at
# most what is left of XF_GPU_BUDGET_S, so that a hung or slow kernel costs its own line, not the report.
DEADLINE = time.time() + float(os.environ.get("XF_GPU_BUDGET_S", "440"))


class OutOfTime(Exception):
    pass


def run(args, timeout=600):
    left = DEADLINE - time.time()
    if left < 5:
        raise OutOfTime()
    limit = min(timeout, left)
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return 124, "timed out after %.0f s: %s" % (limit, " ".join(os.path.basename(a) for a in args[:4]))
    return p.returncode, p.stdout + p.stderr


def oracle(*args):
    return run([sys.executable, os.path.join(HERE, "attention_npy.py")] + list(args))


CASES = [
    # (module, kernel, shape B,H,Hkv,S,T,D,Dv, oracle flags)
    ("gqa", "gqa", "2,8,2,37,301,80,80", ["--causal", "1", "--window", "100"]),
    ("gqa", "gqa", "1,8,2,1,300,80,80", ["--causal", "1", "--window", "100"]),
    ("gqa", "gqa", "1,8,2,150,301,80,80", ["--causal", "1", "--window", "100"]),
    ("modifiers", "alibi_chunked", "2,8,2,37,300,64,64",
     ["--causal", "1", "--score", "z - alibi_slopes(8)[h] * (i - j)", "--mask", "i // 256 == j // 256"]),
    ("modifiers", "prefix_lm", "1,8,8,50,50,64,64", ["--mask", "(j < 32) | (j <= i)"]),
    ("modifiers", "packed_documents", "2,4,4,24,24,64,64",
     ["--causal", "1", "--score", "30 * np.tanh(z / 30)", "--mask",
      "np.array([0,0,0,0,0,1,1,1,2,2,2,2,2,2,2,2])[np.minimum(i, 15)] == "
      "np.array([0,0,0,0,0,1,1,1,2,2,2,2,2,2,2,2])[np.minimum(j, 15)]"]),
    ("kernels", "mha_d64_causal", "2,32,32,130,130,64,64", ["--causal", "1"]),
    ("kernels", "mha_d128_full", "1,16,16,77,200,128,128", []),
    ("kernels", "gqa_decode", "2,32,8,1,1000,128,128", ["--causal", "1"]),
    # Wider workgroups: a decode row's keys split over 8 warps (CUDA) or 16 subgroups (Vulkan).
    ("kernels-wide", "gqa_decode", "2,32,8,1,1000,128,128", ["--causal", "1"]),
    ("kernels-wide", "mha_d64_causal", "2,32,32,130,130,64,64", ["--causal", "1"]),
    # CUDA only: a decode row's keys split over 16 warps of the launch (--xf-subgroup-global-splits).
    ("kernels-gsplit", "gqa_decode", "2,32,8,1,1000,128,128", ["--causal", "1"]),
    ("kernels-gsplit", "gqa_decode", "1,32,8,3,40,128,128", ["--causal", "1"]),
]

# bf16 kernels on CUDA (modules bf16-cuda: SIMT form; tc-cuda: tensor cores with K/V staged by cp.async;
# tc-direct-cuda: tensor cores loading fragments straight from global memory; tc-nosplit-cuda: no split-K;
# tc-m1-cuda, tc-m2-cuda: one or two m-tiles of 16 rows per warp whatever the head dim), inputs made
# exactly bf16. The
# output is bf16 (2^-8 relative) and the tensor cores multiply P V with P in bf16 (2^-8 of max |v|).
BF16_CASES = [
    ("mha_d64_causal", "2,32,32,130,130,64,64", ["--causal", "1"]),
    ("mha_d128_full", "1,16,16,77,200,128,128", []),
    ("mha_d64_full", "1,32,32,16,16,64,64", []),
    ("gqa_decode", "2,32,8,1,1000,128,128", ["--causal", "1"]),
]
BF16_TOL = "2.5e-2"  # 2^-8 of |o| <= 2, plus 2^-8 of max |v| (about 4.5)
# The FlexAttention comparison's variants in bf16 on tensor cores (module tc-variants-cuda).
TC_VARIANT_CASES = [
    ("alibi_chunked", "2,8,2,77,300,64,64",
     ["--causal", "1", "--score", "z - alibi_slopes(8)[h] * (i - j)", "--mask", "i // 256 == j // 256"]),
    ("prefix_lm", "1,8,8,50,50,64,64", ["--mask", "(j < 32) | (j <= i)"]),
    ("gqa", "2,8,2,37,301,80,80", ["--causal", "1", "--window", "100"]),
]


def bf16_numerics():
    log("== bf16 kernels on CUDA against the float64 oracle on the same bf16 inputs (tolerance %s)" % BF16_TOL)
    failures = 0
    cases = [(kernel, shape, flags, ("bf16", "tc", "tc-direct", "tc-nosplit", "tc-m1", "tc-m2"))
             for kernel, shape, flags in BF16_CASES]
    cases += [(kernel, shape, flags, ("tc-variants",)) for kernel, shape, flags in TC_VARIANT_CASES]
    with tempfile.TemporaryDirectory() as tmp:
        for kernel, shape, flags, modules in cases:
            rc, text = oracle("make", "--dir", tmp, "--shape", shape, "--round", "bf16")
            if rc:
                log("oracle make failed: " + text)
                return 1
            for module in modules:
                lib = os.path.join(HERE, "modules", "%s-cuda.so" % module)
                out = os.path.join(tmp, "out.npy")
                rc, text = run([XF, "kernel", lib, "--kernel", kernel, "--device", "cuda"] +
                               [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] + ["-o", out])
                if rc:
                    verdict = "FAIL (run): " + text.strip().splitlines()[-1]
                else:
                    rc, text = oracle("check", "--dir", tmp, "--shape", shape, "--tol", BF16_TOL, *flags)
                    verdict = text.strip().splitlines()[-1] if text.strip() else "no output"
                    verdict = ("ok " if rc == 0 else "FAIL ") + verdict
                failures += not verdict.startswith("ok")
                log("cuda    %-9s %-14s %-22s %s" % (module, kernel, shape, verdict))
    return failures


def numerics(targets):
    log("== attention numerics against the float64 oracle (tolerance 1e-4)")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for module, kernel, shape, flags in CASES:
            rc, text = oracle("make", "--dir", tmp, "--shape", shape)
            if rc:
                log("oracle make failed: " + text)
                return 1
            for target in targets:
                lib = os.path.join(HERE, "modules", "%s-%s.so" % (module, target))
                if not os.path.exists(lib):  # a module for some targets only
                    continue
                out = os.path.join(tmp, "out.npy")
                rc, text = run([XF, "kernel", lib, "--kernel", kernel, "--device", target] +
                               [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] + ["-o", out])
                if rc:
                    verdict = "FAIL (run): " + text.strip().splitlines()[-1]
                else:
                    rc, text = oracle("check", "--dir", tmp, "--shape", shape, *flags)
                    verdict = text.strip().splitlines()[-1] if text.strip() else "no output"
                    verdict = ("ok " if rc == 0 else "FAIL ") + verdict
                failures += not verdict.startswith("ok")
                label = kernel + {"kernels-wide": " (wide)", "kernels-gsplit": " (gsplit)"}.get(module, "")
                log("%-7s %-23s %-22s %s" % (target, label, shape, verdict))
    return failures


def variant_numerics(targets):
    """Every variant (variant_cases.py): each GPU kernel against the CPU kernel of the same flags, on the same
    inputs; the CPU kernels are held to the float64 oracle by the variant tests."""
    import json
    import numpy as np
    folder = os.path.join(HERE, "variants")
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)
    log("== every variant against the CPU kernel's output (max abs difference <= 1e-4)")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.npy")
        for case in cases:
            ref = np.load(os.path.join(folder, case["reference"]))
            for target in targets + (["cuda-gsplit"] if "cuda" in targets else []):
                device = target.split("-")[0]
                rc, text = run([XF, "kernel", os.path.join(folder, "%s-%s.so" % (case["module"], target)), "--kernel",
                                "attn", "--device", device, "-o", out] +
                               [x for n, f in case["inputs"].items() for x in ("--in", "%s=%s" % (n, os.path.join(folder, f)))])
                if rc:
                    verdict = "FAIL (run): " + (text.strip().splitlines() or ["no output"])[-1]
                else:
                    diff = float(np.max(np.abs(np.load(out).astype(np.float64) - ref)))
                    verdict = ("ok" if diff <= 1e-4 else "FAIL") + " max abs difference %.3g" % diff
                failures += not verdict.startswith("ok")
                log("%-7s %-23s %-16s %s" % (target, case["name"], case["shape"], verdict))
    return failures


def models(targets):
    log("== tiny models, 32 greedy steps against the float64 reference forward (logits within 1e-3; cuda-tc: "
        "a bf16 KV cache and attention on tensor cores, against the reference rounding the cache, within 2e-2; "
        "cuda-dot: --dot bf16, mistral's 40-token prefill on cuBLAS's bf16 GEMM, within 5e-2 as on the CPU)")
    failures = 0
    for folder in sorted(glob.glob(os.path.join(HERE, "models", "*"))):
        name = os.path.basename(folder)
        prompt = open(os.path.join(folder, "prompt.txt")).read().strip()
        extra = ["cuda-tc"] + (["cuda-dot"] if name == "mistral" else []) if "cuda" in targets else []
        for target in targets + extra:
            lib = os.path.join(HERE, "modules", "model-%s-%s.so" % (name, "cuda" if target == "cuda-dot" else target))
            ref, atol = {"cuda-tc": ("ref-kv16", "2e-2"), "cuda-dot": ("ref", "5e-2")}.get(target, ("ref", "1e-3"))
            with tempfile.TemporaryDirectory() as tmp:
                logits = os.path.join(tmp, "xf.npy")
                rc, text = run([XF, lib, "--weights", folder, "--prompt-ids", prompt, "--max-new", "32",
                                "--logits", logits, "--quiet"] + (["--dot", "bf16"] if target == "cuda-dot" else []))
                if rc:
                    verdict = "FAIL (run): " + text.strip().splitlines()[-1]
                else:
                    with open(os.path.join(tmp, "xf.txt"), "w") as f:
                        f.write(text)
                    rc, out = run([sys.executable, os.path.join(HERE, "compare_logits.py"), "--xf", logits,
                                   "--ref", os.path.join(folder, ref + ".npy"), "--xf-tokens", os.path.join(tmp, "xf.txt"),
                                   "--ref-tokens", os.path.join(folder, ref + ".txt"), "--atol", atol])
                    verdict = ("ok " if rc == 0 else "FAIL ") + out.strip().splitlines()[-1]
            failures += not verdict.startswith("ok")
            log("%-7s %-10s %s" % (target, name, verdict))
    return failures


def cuda_ms(torch, call):
    """Best of 20 timings of call() by CUDA events, in ms, after 3 warm-up calls."""
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(20):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end))
    return best


def xf_time(rc, text, flops):
    """'K ms (T TFLOP/s) (call C ms)' from an `xf-run kernel` line: K the device time, C the whole call's."""
    call = re.search(r"best of \d+ runs? ([0-9.]+) ms", text)
    kernel = re.search(r"kernel ([0-9.]+) ms on the device", text)
    if rc or not call:
        return "failed: " + (text.strip().splitlines() or ["no output"])[-1][:80]
    ms = float(kernel.group(1)) if kernel else float(call.group(1))
    rate = " (%.1f TFLOP/s)" % (flops / ms / 1e9) if flops else ""
    return "%.3f ms%s (call %.3f ms%s)" % (ms, rate, float(call.group(1)), "" if kernel else "; no device time")


def decode_timing(targets, torch, tmp):
    """Decode attention (S = 1, GQA 32/8, d = 128) at a long context: K and V bytes per call over the kernel's
    device time, against the device's copy bandwidth measured by torch in the same run (read + write)."""
    import numpy as np
    B, T = (int(x) for x in os.environ.get("XF_GPU_DECODE_BT", "2,32768").split(","))
    Hkv, D = 8, 128
    probe = None
    if torch:
        x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
        y = torch.empty_like(x)
        probe = 2 * x.numel() / cuda_ms(torch, lambda: y.copy_(x)) / 1e6  # GB/s
        del x, y
    log("== decode attention, B = %d, S = 1, T = %d, H = 32, Hkv = 8, d = 128: K/V GB/s by device time%s" %
        (B, T, "; device copy %.0f GB/s (torch, read + write)" % probe if probe else ""))
    rng = np.random.default_rng(2)
    np.save(os.path.join(tmp, "q.npy"), rng.standard_normal((B, 32, 1, D), dtype=np.float32))
    for n in "kv":
        np.save(os.path.join(tmp, n + ".npy"), rng.standard_normal((B, Hkv, T, D), dtype=np.float32))
    runs = [r for t in targets for r in ((t, "kernels-%s.so" % t, 4), (t + "-wide", "kernels-wide-%s.so" % t, 4))]
    if "cuda" in targets:
        runs += [("cuda-gsplit", "kernels-gsplit-cuda.so", 4), ("cuda-bf16", "bf16-cuda.so", 2), ("cuda-tc", "tc-cuda.so", 2),
                 ("cuda-tc-direct", "tc-direct-cuda.so", 2), ("cuda-tc-nosplit", "tc-nosplit-cuda.so", 2),
                 ("cuda-tc-m1", "tc-m1-cuda.so", 2), ("cuda-tc-m2", "tc-m2-cuda.so", 2)]
    row = ""
    for name, module, element in runs:
        device = "cuda" if name.startswith("cuda") else name.split("-")[0]
        rc, text = run([XF, "kernel", os.path.join(HERE, "modules", module), "--kernel", "gqa_decode", "--device",
                        device, "--repeat", "20", "--resident"] +
                       [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] +
                       ["-o", os.path.join(tmp, "out.npy")], timeout=1200)
        kernel = re.search(r"kernel ([0-9.]+) ms on the device", text)
        if rc or not kernel:
            row += "  %s failed: %s" % (name, (text.strip().splitlines() or ["no output"])[-1][:80])
            continue
        gbs = 2 * B * Hkv * T * D * element / float(kernel.group(1)) / 1e6
        row += "  %s %.3f ms %.0f GB/s%s" % (name, float(kernel.group(1)), gbs,
                                            " (%.0f%% of the copy)" % (100 * gbs / probe) if probe else "")
    log(row.strip())


def timings(targets):
    import numpy as np
    # XF_GPU_TIMING_BS="B,S" shrinks the shapes (a smoke test on lavapipe).
    B, S = (int(x) for x in os.environ.get("XF_GPU_TIMING_BS", "4,4096").split(","))
    log("== timings, B = %d, S = T = %d, H * D = 2048; xf: f32, best of 5 kernels by device time (in parentheses "
        "the whole call, inputs resident, output copied back); torch: bf16 SDPA, best of 20 after a warm-up" % (B, S))
    shapes = [("mha_d64_full", 32, 64, False), ("mha_d64_causal", 32, 64, True),
              ("mha_d128_full", 16, 128, False), ("mha_d128_causal", 16, 128, True)]
    torch = None
    try:
        import torch as torch_module
        if torch_module.cuda.is_available():
            torch = torch_module
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        for kernel, H, D, causal in shapes:
            flops = 4.0 * B * H * S * S * D * (0.5 if causal else 1.0)
            rng = np.random.default_rng(1)
            for n in "qkv":
                np.save(os.path.join(tmp, n + ".npy"), rng.standard_normal((B, H, S, D), dtype=np.float32))
            row = "%-16s" % kernel
            for target in targets:
                for name, module in ((target, "kernels-%s.so" % target), (target + "-wide", "kernels-wide-%s.so" % target)):
                    lib = os.path.join(HERE, "modules", module)
                    rc, text = run([XF, "kernel", lib, "--kernel", kernel, "--device", target, "--repeat", "5",
                                    "--resident"] + [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] +
                                   ["-o", os.path.join(tmp, "out.npy")], timeout=1200)
                    row += "  %s %s" % (name, xf_time(rc, text, flops))
            if "cuda" in targets:  # the same shapes in bf16: SIMT form and tensor cores
                for module in ("bf16", "tc", "tc-m1", "tc-m2", "tc-direct"):
                    lib = os.path.join(HERE, "modules", "%s-cuda.so" % module)
                    rc, text = run([XF, "kernel", lib, "--kernel", kernel, "--device", "cuda", "--repeat", "5",
                                    "--resident"] + [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] +
                                   ["-o", os.path.join(tmp, "out.npy")], timeout=1200)
                    row += "  cuda-%s %s" % (module, xf_time(rc, text, flops))
            if torch:
                from torch.nn.attention import SDPBackend, sdpa_kernel
                q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
                for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION):
                    try:
                        with sdpa_kernel(backend):
                            best = cuda_ms(torch, lambda: torch.nn.functional.scaled_dot_product_attention(
                                q, k, v, is_causal=causal))
                        row += "  torch %s %.3f ms (%.1f TFLOP/s)" % (backend.name, best, flops / best / 1e9)
                    except Exception as error:  # a backend the build or the GPU lacks
                        row += "  torch %s unavailable (%s)" % (backend.name, str(error).splitlines()[0][:60])
            log(row)
        variant_timing(targets, torch, tmp)
        decode_timing(targets, torch, tmp)
        dense_timing(targets, torch, tmp)
    model_timing(targets)


def dense_timing(targets, torch, tmp):
    """The bf16 products of the model modules at N x K = 4096 x 4096 (XF_GPU_DENSE_NK shrinks them): decode,
    M = 1 (xf_dense_matmul_bf16: weight bytes over the kernel's device time), and prefill, M = 512
    (xf_dense_matmul_tiled_bf16: TFLOP/s); each output checked against x W^T in float64 (relative 1e-4 of
    the largest). torch: F.linear in bf16 (activations rounded too), cuBLAS."""
    import numpy as np
    N, K = (int(v) for v in os.environ.get("XF_GPU_DENSE_NK", "4096,4096").split(","))
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((N, K), dtype=np.float32) * 0.02).view(np.uint32) & np.uint32(0xFFFF0000)
    words = ((w[:, 0::2] >> np.uint32(16)) | w[:, 1::2]).view(np.float32)  # bf16 pairs, input 2p in the low half
    wide = w.view(np.float32).astype(np.float64)
    np.save(os.path.join(tmp, "w.npy"), words)
    probe = None
    if torch:
        a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
        b = torch.empty_like(a)
        probe = 2 * a.numel() / cuda_ms(torch, lambda: b.copy_(a)) / 1e6
        del a, b
    log("== bf16 products, N x K = %d x %d: decode (M = 1) weight GB/s%s, prefill (M = 512) TFLOP/s, by device time"
        % (N, K, "; device copy %.0f GB/s" % probe if probe else ""))
    for M, kernel in ((1, "xf_dense_matmul_bf16"), (512, "xf_dense_matmul_tiled_bf16")):
        x = rng.standard_normal((M, K), dtype=np.float32)
        np.save(os.path.join(tmp, "x.npy"), x)
        want = x.astype(np.float64) @ wide.T
        row = "M = %-4d %-27s" % (M, kernel)
        for target in targets:
            out = os.path.join(tmp, "y.npy")
            rc, text = run([XF, "kernel", os.path.join(HERE, "modules", "bench100m-%s.so" % target), "--kernel", kernel,
                            "--device", target, "--repeat", "20", "--resident", "--in", "input=" + os.path.join(tmp, "x.npy"),
                            "--in", "weight=" + os.path.join(tmp, "w.npy"), "-o", out], timeout=1200)
            ms = re.search(r"kernel ([0-9.]+) ms on the device", text)
            if rc or not ms:
                row += "  %s failed: %s" % (target, (text.strip().splitlines() or ["no output"])[-1][:80])
                continue
            err = np.abs(np.load(out) - want).max() / np.abs(want).max()
            ms = float(ms.group(1))
            rate = ("%.0f GB/s" % (N * K * 2 / ms / 1e6) + (" (%.0f%% of the copy)" % (100 * N * K * 2 / ms / 1e6 / probe)
                                                         if probe else "")) if M == 1 else "%.1f TFLOP/s" % (2 * M * N * K / ms / 1e9)
            row += "  %s %.3f ms %s, %s (rel. err %.1e)" % (target, ms, rate, "ok" if err <= 1e-4 else "MISMATCH", err)
        if torch:
            xt = torch.tensor(x, device="cuda", dtype=torch.bfloat16)
            wt = torch.tensor(w.view(np.float32), device="cuda", dtype=torch.bfloat16)
            best = cuda_ms(torch, lambda: torch.nn.functional.linear(xt, wt))
            row += "  torch bf16 %.3f ms %s" % (best, "%.0f GB/s" % (N * K * 2 / best / 1e6) if M == 1
                                                 else "%.1f TFLOP/s" % (2 * M * N * K / best / 1e9))
        log(row)


def model_timing(targets):
    # XF_GPU_MODEL_STEPS="S,N" shrinks the prompt and the decode steps (a smoke test on lavapipe).
    S, N = (int(x) for x in os.environ.get("XF_GPU_MODEL_STEPS", "128,128").split(","))
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "bench100m")
        rc, text = run([sys.executable, os.path.join(HERE, "gen_bench_model.py"), "--out", model, "--dtype", "bf16"])
        if rc:
            log("== whole model: generating the checkpoint failed: " + text.strip()[-200:])
            return
        # Bytes a decode step streams: the projections of every layer and the lm_head, in bf16.
        cfg = __import__("json").load(open(os.path.join(model, "config.json")))
        H, I, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
        qkv = (cfg["num_attention_heads"] + 2 * cfg["num_key_value_heads"]) * cfg["head_dim"]
        weight_bytes = 2 * (L * (H * qkv + cfg["num_attention_heads"] * cfg["head_dim"] * H + 3 * H * I) + H * V)
        log("== whole model (bench100m, bf16 weights, %.0f MB per decode step): %d-token prompt, %d decode steps"
            % (weight_bytes / 1e6, S, N))
        prompt = ",".join(str(1 + (7 * i) % 31999) for i in range(S))
        # cuda-dot: the cuda module with --dot bf16 (prefill projections on cuBLAS's bf16 GEMM).
        for target in targets + (["cuda-tc", "cuda-dot"] if "cuda" in targets else []):
            lib = os.path.join(HERE, "modules", "bench100m-%s.so" % ("cuda" if target == "cuda-dot" else target))
            rc, text = run([XF, lib, "--weights", model, "--prompt-ids", prompt, "--max-new", str(N + 1), "--quiet",
                            "--prefill-runs", "3"] + (["--dot", "bf16"] if target == "cuda-dot" else []), timeout=1800)
            prefill = re.search(r"^prefill: .* ([0-9.]+) tokens/s", text, re.M)
            decode = re.search(r"^decode: .* ([0-9.]+) tokens/s", text, re.M)
            if rc or not prefill or not decode:
                log("%-8s failed: %s" % (target, (text.strip().splitlines() or ["no output"])[-1][:120]))
                continue
            rate = float(decode.group(1))
            log("%-8s prefill %.1f tokens/s, decode %.1f tokens/s (%.0f GB/s of weights)" %
                (target, float(prefill.group(1)), rate, rate * weight_bytes / 1e9))


# Variants FlexAttention can express, timed against it (bf16, compiled): (module, kernel, heads, kv heads,
# head dim, score_mod and mask_mod built from the slopes tensor; None: none).
FLEX_VARIANTS = [
    ("modifiers", "alibi_chunked", 8, 2, 64,
     lambda slopes: lambda score, b, h, q, kv: score - slopes[h] * (q - kv),
     lambda q, kv: (kv <= q) & (q // 256 == kv // 256)),
    ("modifiers", "prefix_lm", 8, 8, 64, None, lambda q, kv: (kv < 32) | (kv <= q)),
    ("gqa", "gqa", 8, 2, 80, None, lambda q, kv: (kv <= q) & (kv > q - 100)),
]


def variant_timing(targets, torch, tmp):
    """Variants against FlexAttention with the same score and mask modifiers (bf16, compiled), B = 4,
    S = T = 4096: ALiBi + 256-token chunks (causal, GQA 8/2, d = 64), a 32-token prefix LM, and a
    100-token sliding window (causal, GQA 8/2, d = 80)."""
    import numpy as np
    B, S = (int(x) for x in os.environ.get("XF_GPU_TIMING_BS", "4,4096").split(","))
    for module, kernel, H, Hkv, D, score_of, mask in FLEX_VARIANTS:
        rng = np.random.default_rng(2)
        for n, heads in (("q", H), ("k", Hkv), ("v", Hkv)):
            np.save(os.path.join(tmp, n + ".npy"), rng.standard_normal((B, heads, S, D), dtype=np.float32))
        row = "%-16s" % kernel
        for target in targets:
            lib = os.path.join(HERE, "modules", "%s-%s.so" % (module, target))
            rc, text = run([XF, "kernel", lib, "--kernel", kernel, "--device", target, "--repeat", "5",
                            "--resident"] + [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] +
                           ["-o", os.path.join(tmp, "out.npy")], timeout=1200)
            row += "  %s %s" % (target, xf_time(rc, text, 0))
        if "cuda" in targets:  # bf16 on tensor cores, as FlexAttention multiplies
            rc, text = run([XF, "kernel", os.path.join(HERE, "modules", "tc-variants-cuda.so"), "--kernel", kernel,
                            "--device", "cuda", "--repeat", "5", "--resident"] +
                           [a for n in "qkv" for a in ("--" + n, os.path.join(tmp, n + ".npy"))] +
                           ["-o", os.path.join(tmp, "out.npy")], timeout=1200)
            row += "  cuda-tc %s" % xf_time(rc, text, 0)
        if torch:
            try:
                from torch.nn.attention.flex_attention import create_block_mask, flex_attention
                m = 1
                while m * 2 <= H:
                    m *= 2
                slopes = torch.tensor([2.0 ** (-8.0 * k / m) for k in range(1, m + 1)], device="cuda")
                block_mask = create_block_mask(lambda b, h, q, kv: mask(q, kv), None, None, S, S, device="cuda")
                flex = torch.compile(flex_attention)
                q = torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16)
                k, v = (torch.randn(B, Hkv, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(2))
                score_mod = score_of(slopes) if score_of else None
                best = cuda_ms(torch, lambda: flex(q, k, v, score_mod=score_mod, block_mask=block_mask,
                                                   enable_gqa=Hkv != H))
                row += "  torch FlexAttention %.3f ms" % best
            except Exception as error:  # a head dim or a build FlexAttention does not support
                row += "  torch FlexAttention unavailable (%s)" % str(error).splitlines()[0][:80]
        log(row)


def main():
    log("xf GPU check, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    rc, text = run([XF, "devices"])
    log(text.rstrip())
    targets = [t for t in ("cuda", "vulkan") if re.search(r"^%s:0: " % t, text, re.M)]
    if not targets:
        log("no GPU target available: nothing to check")
        return 1
    failures = 0
    try:
        failures += numerics(targets)
        failures += variant_numerics(targets)
        failures += models(targets)
        if "cuda" in targets:
            failures += bf16_numerics()
        log("== %d failure(s) in the checks" % failures)
        if "--no-timings" not in sys.argv:
            timings(targets)
    except OutOfTime:
        log("== out of time (XF_GPU_BUDGET_S = %s s): the rest was skipped; %d failure(s) before"
            % (os.environ.get("XF_GPU_BUDGET_S", "440"), failures))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
