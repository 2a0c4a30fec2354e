"""Attention variants at decode shapes against a float64 NumPy oracle.

For each case (a set of variants on one kernel) this compiles the kernel with xfc (the CPU pipeline, which
takes the decode form for S <= 8 query rows and the block form above), runs it through `xf-run kernel` on
seeded random operands for every S in --seq-q and every T in --seq-k (T >= S; T not a multiple of the key
block included), and compares the output with the oracle below, written from ../../../../shared/VARIANTS.md
as test/reference/ReferenceAttention.cpp is: queries are the newest S of T tokens (query row r sits at
i = T - S + r); causal keeps j <= i; a window W keeps j > i - W except the sink tokens j < k of streaming
attention; learned sinks add exp(s[h]) to the denominator; ACT rescales the calibrated columns by beta and
the rest by (1 - beta S_i) / (1 - S_i); affine scaling adds (alpha_ma - a) times the mean visible value;
gates and gains multiply the head output. Prints one line per run and OK at the end, or FAIL lines.

usage: decode_variants.py --dir DIR [--cases a,b] [--seq-q 1,2,...] [--seq-k 7,64,...]
"""
import argparse
import os
import subprocess
import sys
import zlib

import numpy as np

# name: (heads, kv_heads, head_dim, causal, window, xfc variant flags, score/mask source, features)
CASES = {
    "plain": (8, 2, 64, True, 0, [], "", set()),
    "full_mha_d72": (8, 8, 72, False, 0, [], "", set()),
    "window": (8, 4, 80, True, 20, [], "", set()),
    "sinks": (8, 2, 64, True, 0, ["xf-attention-sinks{mode=learned}"], "", {"sinks"}),
    "streaming": (8, 2, 64, True, 9, ["xf-attention-sinks{mode=streaming sink-tokens=3}"], "", {"streaming"}),
    "act": (8, 2, 64, True, 0, ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}"], "", {"act"}),
    "gains_emphasis": (8, 4, 64, True, 0, ["xf-head-modulation{heads=1,2 gain=2.0 emphasis-keys=0,4 emphasis=0.7}"],
                       "", {"gains", "emphasis"}),
    "emphasislast_softcap": (8, 2, 64, False, 0,
                             ["xf-head-modulation{emphasis-keys=0,4 emphasis=0.7 emphasis-rows=last}"],
                             "softcap", {"emphasislast", "softcap"}),
    "moh": (8, 2, 64, True, 0, ["xf-mixture-of-heads{shared-heads=1 top-k=2 hidden=16}"], "", {"moh"}),
    "affine_window": (8, 2, 64, True, 24, ["xf-affine-scale{activation=linear_clip}"], "", {"affine"}),
    "softcap_chunkmask": (8, 2, 64, True, 0, [], "softcap,chunkmask", {"softcap", "chunkmask"}),
    "lookup_score": (8, 2, 64, True, 0, [], "lookup", {"lookup"}),
    "act_affine_chunkmask": (8, 4, 64, True, 0,
                             ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}",
                              "xf-affine-scale{activation=linear_clip}"], "chunkmask", {"act", "affine", "chunkmask"}),
    "sinks_streaming_act": (8, 2, 64, True, 9,
                            ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}",
                             "xf-attention-sinks{mode=learned}",
                             "xf-attention-sinks{mode=streaming sink-tokens=3}"], "", {"act", "sinks", "streaming"}),
    "moh_affine_sinks": (8, 2, 64, True, 0,
                         ["xf-mixture-of-heads{shared-heads=1 top-k=2 hidden=16}",
                          "xf-affine-scale{activation=linear_clip}", "xf-attention-sinks{mode=learned}"], "",
                         {"moh", "affine", "sinks"}),
    "gains_moh_act": (8, 1, 64, False, 0,
                      ["xf-attention-sinks{mode=calibrated keys=1,2,5 heads=0,3 beta=0.4}",
                       "xf-head-modulation{heads=1,2 gain=2.0}",
                       "xf-mixture-of-heads{shared-heads=1 top-k=2 hidden=16}"], "", {"act", "gains", "moh"}),
}

REGIONS = {
    "softcap": """  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 20.0 : f32
    %t = arith.divf %z, %c : f32
    %th = math.tanh %t : f32
    %s = arith.mulf %th, %c : f32
    xf.yield %s : f32
  }
""",
    # Not elementwise in j (a table lookup): the kernel evaluates it one key at a time.
    "lookup": """  score {
  ^bb0(%z: f32, %b: index, %h: index, %i: index, %j: index):
    %tbl = arith.constant dense<[0.5, -0.25, 1.0, 0.0, -1.0, 0.75, 0.25, -0.5]> : vector<8xf32>
    %c7 = arith.constant 7 : index
    %jj = arith.minui %j, %c7 : index
    %e = vector.extract %tbl[%jj] : f32 from vector<8xf32>
    %s = arith.addf %z, %e : f32
    xf.yield %s : f32
  }
""",
    "chunkmask": """  mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c16 = arith.constant 16 : index
    %ci = arith.divui %i, %c16 : index
    %cj = arith.divui %j, %c16 : index
    %keep = arith.cmpi eq, %ci, %cj : index
    xf.yield %keep : i1
  }
""",
}
LOOKUP = np.array([0.5, -0.25, 1.0, 0.0, -1.0, 0.75, 0.25, -0.5])


def kernel_source(heads, kv_heads, dim, causal, window, regions):
    q = f"tensor<?x{heads}x?x{dim}xf32>"
    kv = f"tensor<?x{kv_heads}x?x{dim}xf32>"
    body = "".join(REGIONS[r] for r in ["softcap", "lookup", "chunkmask"] if r in regions.split(","))
    return (f"func.func @attn(%q: {q}, %k: {kv}, %v: {kv}, %o: {q}) -> {q} attributes {{xf.kernel}} {{\n"
            f"  %r = xf.attention ins(%q, %k, %v : {q}, {kv}, {kv}) outs(%o : {q}) {{num_heads = {heads}, "
            f"num_kv_heads = {kv_heads}, scale = {1.0 / np.sqrt(dim)!r} : f64, causal = {str(causal).lower()}, "
            f"window = {window}}}\n{body}  -> {q}\n  return %r : {q}\n}}\n")


def reference(q, k, v, ops, causal, window, features):
    B, H, S, D = q.shape
    Hkv, T = k.shape[1], k.shape[2]
    G = H // Hkv
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    k, v = np.repeat(k, G, axis=1), np.repeat(v, G, axis=1)
    z = np.einsum("bhsd,bhtd->bhst", q, k) / np.sqrt(D)
    h = np.arange(H)[None, :, None, None]
    i = (T - S + np.arange(S))[None, None, :, None]
    j = np.arange(T)[None, None, None, :]
    if "softcap" in features:
        z = 20.0 * np.tanh(z / 20.0)
    if "lookup" in features:
        z = z + LOOKUP[np.minimum(j, 7)]
    emphasized = (j == 0) | (j == 4)
    if "emphasis" in features:
        z = np.where(emphasized, z + 0.7 * np.abs(z), z)
    if "emphasislast" in features:
        z = np.where(emphasized & (i == T - 1), z + 0.7 * np.abs(z), z)
    visible = np.ones(z.shape, dtype=bool)
    if causal:
        visible &= j <= i
    if window:
        sink_token = (j < 3) if "streaming" in features else np.zeros_like(j, dtype=bool)
        visible &= (j > i - window) | sink_token
    if "chunkmask" in features:
        visible &= (i // 16) == (j // 16)
    zm = np.where(visible, z, -np.inf)
    sink = ops["sinks"].astype(np.float64)[None, :, None, None] if "sinks" in features else np.full((1, H, 1, 1), -np.inf)
    m = np.maximum(zm.max(axis=-1, keepdims=True), sink)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(visible, np.exp(zm - m), 0.0)
    denom = e.sum(axis=-1, keepdims=True) + np.exp(sink - m)
    p = np.divide(e, denom, out=np.zeros_like(e), where=denom > 0)
    if "act" in features:
        in_s = np.isin(j, [1, 2, 5]) & visible
        mass = (p * in_s).sum(axis=-1, keepdims=True)
        rest = np.divide(1.0 - 0.4 * mass, 1.0 - mass, out=np.zeros_like(mass), where=mass < 1.0)
        calibrated = np.isin(h, [0, 3])
        p = np.where(calibrated, np.where(in_s, 0.4 * p, p * rest), p)
    out = np.einsum("bhst,bhtd->bhsd", p, v)
    if "affine" in features:
        a = np.clip(0.1 * ops["alpha"].astype(np.float64) + 0.5, 0.0, 1.0)[..., None]
        count = visible.sum(axis=-1, keepdims=True)
        mean = np.einsum("bhst,bhtd->bhsd", visible.astype(np.float64), v)
        mean = np.divide(mean, count, out=np.zeros_like(mean), where=count > 0)
        out = a * out + (ops["alpha_ma"].astype(np.float64)[None, :, None, None] - a) * mean
    g = np.ones((B, H, S, 1))
    if "moh" in features:
        g = g * ops["gates"].astype(np.float64)[..., None]
    if "gains" in features:
        gains = np.ones(H)
        gains[[1, 2]] = 2.0
        g = g * gains[None, :, None, None]
    return out * g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--seq-q", default="1,2,3,5,8,9")
    ap.add_argument("--seq-k", default="1,7,64,131")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    failures = 0
    for name in a.cases.split(","):
        heads, kv_heads, dim, causal, window, flags, regions, features = CASES[name]
        src = os.path.join(a.dir, f"{name}.mlir")
        lib = os.path.join(a.dir, f"lib{name}.so")
        with open(src, "w") as f:
            f.write(kernel_source(heads, kv_heads, dim, causal, window, regions))
        subprocess.run(["xfc", src] + [f"--variant={v}" for v in flags] + ["-o", lib], check=True)
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        for S in (int(x) for x in a.seq_q.split(",")):
            for T in (int(x) for x in a.seq_k.split(",")):
                if T < S:
                    continue
                B = a.batch
                ops = {
                    "query": rng.standard_normal((B, heads, S, dim), dtype=np.float32),
                    "key": rng.standard_normal((B, kv_heads, T, dim), dtype=np.float32),
                    "value": rng.standard_normal((B, kv_heads, T, dim), dtype=np.float32),
                }
                if "sinks" in features:
                    ops["sinks"] = 2.0 * rng.standard_normal(heads, dtype=np.float32)
                if "moh" in features:
                    g = np.abs(rng.standard_normal((B, heads, S), dtype=np.float32)) + 0.1
                    active = rng.random((B, heads, S)) < 0.4
                    active[:, 0, :] = True
                    active[:, 3::4, :] = False
                    ops["gates"] = np.where(active, g, 0.0).astype(np.float32)
                if "affine" in features:
                    ops["alpha"] = 5.0 * rng.standard_normal((B, heads, S), dtype=np.float32)
                    ops["alpha_ma"] = (0.5 + 0.4 * np.tanh(rng.standard_normal(heads))).astype(np.float32)
                args = []
                for operand, value in ops.items():
                    path = os.path.join(a.dir, f"{operand}.npy")
                    np.save(path, value)
                    args += ["--in", f"{operand}={path}"]
                out_path = os.path.join(a.dir, "out.npy")
                subprocess.run(["xf-run", "kernel", lib, "--kernel", "attn"] + args + ["-o", out_path, "--threads", "2"],
                               check=True, stdout=subprocess.DEVNULL)
                out = np.load(out_path)
                ref = reference(ops["query"], ops["key"], ops["value"], ops, causal, window, features)
                err = float(np.max(np.abs(out - ref))) if out.shape == ref.shape else float("inf")
                ok = err <= a.tol
                failures += not ok
                print(f"{'ok' if ok else 'FAIL'} {name} B={B} H={heads} Hkv={kv_heads} D={dim} S={S} T={T}: "
                      f"max abs error {err:.3g}")
    print("OK" if failures == 0 else f"FAIL: {failures} runs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
