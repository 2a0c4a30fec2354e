#!/usr/bin/env python3
"""Compares xf's greedy run with the reference: the same tokens, and logits within a tolerance.

  compare_logits.py --xf xf.npy --ref ref.npy --xf-tokens "tokens: 1,2" --ref-tokens "tokens: 1,2" [--atol 1e-3]
      [--most-atol A]

Prints `logits match: N steps, max abs diff D` or exits non-zero with the first step that differs.
"""
import argparse
import sys

import numpy as np


def tokens(line):
    line = line.strip()
    if not line.startswith("tokens:"):
        sys.exit(f"compare_logits: expected a 'tokens: ...' line, got {line!r}")
    return [int(t) for t in line[len("tokens:"):].split(",") if t.strip()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--xf", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--xf-tokens", required=True, help="file holding xf-run's stdout")
    p.add_argument("--ref-tokens", required=True, help="file holding reference_forward.py's stdout")
    p.add_argument("--atol", type=float, default=1e-3)
    p.add_argument("--most-atol", type=float,
                   help="also: at least 90%% of the steps within this tighter tolerance (for rounding that rarely "
                        "lands on the other side of a boundary)")
    a = p.parse_args()
    x, r = np.load(a.xf), np.load(a.ref)
    if x.shape != r.shape:
        sys.exit(f"compare_logits: shapes differ: xf {x.shape}, reference {r.shape}")
    diff = np.abs(x.astype(np.float64) - r.astype(np.float64)).max(axis=1)
    bad = np.nonzero(diff > a.atol)[0]
    if bad.size:
        s = bad[0]
        sys.exit(f"compare_logits: step {s}: max abs logit diff {diff[s]:.3g} > {a.atol}")
    xt = tokens(open(a.xf_tokens).readline())
    rt = tokens(open(a.ref_tokens).readline())
    if xt != rt:
        s = next(i for i, (u, v) in enumerate(zip(xt + [None], rt + [None])) if u != v)
        sys.exit(f"compare_logits: token {s} differs: xf {xt[s:s+1]}, reference {rt[s:s+1]}")
    most = ""
    if a.most_atol is not None:
        within = int((diff <= a.most_atol).sum())
        if within < 0.9 * len(diff):
            sys.exit(f"compare_logits: only {within} of {len(diff)} steps within {a.most_atol}")
        most = f"; {within} within {a.most_atol}"
    print(f"logits match: {x.shape[0]} steps, max abs diff {diff.max():.2e} <= {a.atol}{most}")


if __name__ == "__main__":
    main()
