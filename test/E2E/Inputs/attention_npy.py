"""Makes random attention inputs as .npy files and checks xf's output against a float64 NumPy reference
written from VARIANTS.md (queries are the newest S of T tokens; causal j <= i; window j > i - W)."""
import argparse
import sys

import numpy as np


def reference(q, k, v, scale, causal, window, alibi=False):
    B, H, S, D = q.shape
    Hkv, T = k.shape[1], k.shape[2]
    group = H // Hkv
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    z = scale * np.einsum("bhsd,bhtd->bhst", q, k)
    i = (T - S + np.arange(S))[:, None]
    j = np.arange(T)[None, :]
    if alibi:
        # ALiBi (examples/plugin): z - 2^(-8 (h + 1) / H) * (i - j)
        slopes = 2.0 ** (-8.0 * (np.arange(H) + 1) / H)
        z = z - slopes[None, :, None, None] * (i - j)[None, None, :, :]
    visible = np.ones((S, T), dtype=bool)
    if causal:
        visible &= j <= i
    if window:
        visible &= j > i - window
    z = np.where(visible, z, -np.inf)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(visible, np.exp(z - m), 0.0)
    denom = p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhst,bhtd->bhsd", p, v)
    return np.divide(out, denom, out=np.zeros_like(out), where=denom > 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["make", "check"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--shape", required=True, help="B,H,Hkv,S,T,D,Dv")
    ap.add_argument("--causal", type=int, default=0)
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--alibi", type=int, default=0)
    a = ap.parse_args()
    B, H, Hkv, S, T, D, Dv = (int(x) for x in a.shape.split(","))
    d = a.dir
    if a.mode == "make":
        rng = np.random.default_rng(7)
        np.save(f"{d}/q.npy", rng.standard_normal((B, H, S, D), dtype=np.float32))
        np.save(f"{d}/k.npy", rng.standard_normal((B, Hkv, T, D), dtype=np.float32))
        np.save(f"{d}/v.npy", rng.standard_normal((B, Hkv, T, Dv), dtype=np.float32))
        return 0
    q, k, v = (np.load(f"{d}/{n}.npy") for n in "qkv")
    out = np.load(f"{d}/out.npy")
    scale = a.scale or 1.0 / np.sqrt(D)
    ref = reference(q, k, v, scale, a.causal, a.window, bool(a.alibi))
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
