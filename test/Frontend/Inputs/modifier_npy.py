"""Checks an xf attention kernel with DSL score/mask modifiers against a float64 NumPy reference.

The modifiers are given as NumPy expressions over the broadcast index arrays b, h, i, j (ints) and the
score z (float64), with Python's floor division and modulo, which are the DSL's (docs/DSL.md). Queries
are the newest S of T tokens (VARIANTS.md): query row r sits at position i = T - S + r.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["make", "check"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--shape", required=True, help="B,H,Hkv,S,T,D,Dv")
    ap.add_argument("--causal", type=int, default=0)
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.0)
    ap.add_argument("--score", default="z")
    ap.add_argument("--mask", default="True")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    B, H, Hkv, S, T, D, Dv = (int(x) for x in a.shape.split(","))
    d = a.dir
    if a.mode == "make":
        rng = np.random.default_rng(11)
        np.save(f"{d}/q.npy", rng.standard_normal((B, H, S, D), dtype=np.float32))
        np.save(f"{d}/k.npy", rng.standard_normal((B, Hkv, T, D), dtype=np.float32))
        np.save(f"{d}/v.npy", rng.standard_normal((B, Hkv, T, Dv), dtype=np.float32))
        return 0
    q, k, v = (np.load(f"{d}/{n}.npy").astype(np.float64) for n in "qkv")
    out = np.load(f"{d}/out.npy")
    group = H // Hkv
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scale = a.scale or 1.0 / np.sqrt(D)
    z = scale * np.einsum("bhsd,bhtd->bhst", q, k)
    b = np.arange(B)[:, None, None, None]
    h = np.arange(H)[None, :, None, None]
    i = (T - S + np.arange(S))[None, None, :, None]
    j = np.arange(T)[None, None, None, :]
    env = {"np": np, "z": z, "b": b, "h": h, "i": i, "j": j, "alibi_slopes": alibi_slopes}
    z = np.broadcast_to(eval(a.score, env), z.shape)
    visible = np.broadcast_to(np.asarray(eval(a.mask, env), dtype=bool), z.shape).copy()
    if a.causal:
        visible &= np.broadcast_to(j <= i, z.shape)
    if a.window:
        visible &= np.broadcast_to(j > i - a.window, z.shape)
    z = np.where(visible, z, -np.inf)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(visible, np.exp(z - m), 0.0)
    denom = p.sum(axis=-1, keepdims=True)
    ref = np.einsum("bhst,bhtd->bhsd", p, v)
    ref = np.divide(ref, denom, out=np.zeros_like(ref), where=denom > 0)
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
