"""Makes random attention inputs as .npy files and checks xf's output against a float64 NumPy reference
written from VARIANTS.md: queries are the newest S of T tokens (query row r sits at position
i = T - S + r); causal keeps j <= i; a window W keeps j > i - W; a row that sees no key is zero.

Score and mask modifiers are NumPy expressions over the broadcast index arrays b, h, i, j (ints) and the
score z (float64), with Python's floor division and modulo, which are the DSL's (docs/DSL.md);
`alibi_slopes(n)` gives ALiBi's per-head slopes.
"""
import argparse
import sys

import numpy as np


def alibi_slopes(n):
    def power_of_two(m):
        return [2.0 ** (-8.0 * k / m) for k in range(1, m + 1)]

    m = 1
    while m * 2 <= n:
        m *= 2
    return np.array(power_of_two(m) + power_of_two(2 * m)[0::2][: n - m])


def reference(q, k, v, scale, causal, window, score="z", mask="True"):
    B, H, S, D = q.shape
    Hkv, T = k.shape[1], k.shape[2]
    group = H // Hkv
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    z = scale * np.einsum("bhsd,bhtd->bhst", q, k)
    b = np.arange(B)[:, None, None, None]
    h = np.arange(H)[None, :, None, None]
    i = (T - S + np.arange(S))[None, None, :, None]
    j = np.arange(T)[None, None, None, :]
    env = {"np": np, "z": z, "b": b, "h": h, "i": i, "j": j, "alibi_slopes": alibi_slopes}
    z = np.broadcast_to(eval(score, env), z.shape)
    visible = np.broadcast_to(np.asarray(eval(mask, env), dtype=bool), z.shape).copy()
    if causal:
        visible &= np.broadcast_to(j <= i, z.shape)
    if window:
        visible &= np.broadcast_to(j > i - window, z.shape)
    z = np.where(visible, z, -np.inf)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(visible, np.exp(z - m), 0.0)
    denom = p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhst,bhtd->bhsd", p, v)
    return np.divide(out, denom, out=np.zeros_like(out), where=denom > 0)


def rounded(x, dtype):
    """float32 `x` rounded to nearest even in `dtype`, as float32."""
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        u = x.view(np.uint32).astype(np.uint64)
        return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["make", "check"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--shape", required=True, help="B,H,Hkv,S,T,D,Dv")
    ap.add_argument("--causal", type=int, default=0)
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.0)
    ap.add_argument("--score", default="z", help="score modifier, e.g. 'z - alibi_slopes(8)[h] * (i - j)'")
    ap.add_argument("--mask", default="True", help="mask modifier, e.g. '(i // 16) == (j // 16)'")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--round", choices=["f32", "bf16", "f16"], default="f32",
                    help="make: inputs already rounded to this type, so a kernel compiled for it reads them exactly")
    a = ap.parse_args()
    B, H, Hkv, S, T, D, Dv = (int(x) for x in a.shape.split(","))
    d = a.dir
    if a.mode == "make":
        rng = np.random.default_rng(a.seed)
        for name, shape in (("q", (B, H, S, D)), ("k", (B, Hkv, T, D)), ("v", (B, Hkv, T, Dv))):
            np.save(f"{d}/{name}.npy", rounded(rng.standard_normal(shape, dtype=np.float32), a.round))
        return 0
    q, k, v = (np.load(f"{d}/{n}.npy") for n in "qkv")
    out = np.load(f"{d}/out.npy")
    scale = a.scale or 1.0 / np.sqrt(D)
    ref = reference(q, k, v, scale, a.causal, a.window, a.score, a.mask)
    if out.shape != ref.shape:
        print(f"FAIL: output shape {out.shape}, expected {ref.shape}")
        return 1
    err = float(np.max(np.abs(out - ref)))
    print(f"max abs error {err:.3g} (tolerance {a.tol:g})")
    if not err <= a.tol:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
