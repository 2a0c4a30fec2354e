"""Writes q/k of a causal prefill in which some heads attend strongly to key columns 1 and 3 (attention
sinks), and prints ACT's sink columns per head computed independently with NumPy (float64):
c_j = (sum_i P[i,j]) / (N - j), columns j >= 1 with c_j > tau."""
import sys

import numpy as np

out, tau = sys.argv[1], float(sys.argv[2])
B, H, Hkv, N, D = 2, 4, 2, 40, 16
rng = np.random.default_rng(3)
q = rng.standard_normal((B, H, N, D)).astype(np.float32) * 0.3
k = rng.standard_normal((B, Hkv, N, D)).astype(np.float32) * 0.3
# kv head 0 (query heads 0 and 1): keys 1 and 3 point along the queries' shared direction.
direction = np.zeros(D, dtype=np.float32)
direction[0] = 1.0
q[:, 0:2, :, :] += 3.0 * direction
k[:, 0, 1, :] += 3.0 * direction
k[:, 0, 3, :] += 2.0 * direction
np.save(f"{out}/q.npy", q)
np.save(f"{out}/k.npy", k)

z = np.einsum("bhid,bhjd->bhij", q.astype(np.float64), np.repeat(k, H // Hkv, axis=1).astype(np.float64))
z /= np.sqrt(D)
z = np.where(np.tril(np.ones((N, N), dtype=bool)), z, -np.inf)
p = np.exp(z - z.max(axis=-1, keepdims=True))
p /= p.sum(axis=-1, keepdims=True)
scores = p.sum(axis=2).mean(axis=0) / (N - np.arange(N))  # [H, N]
for h in range(H):
    cols = [j for j in range(1, N) if scores[h, j] > tau]
    print(f"head {h}: {cols if cols else 'none'}")
