#!/usr/bin/python3
"""The PyTorch peer of xf-attention-bench: unfused eager attention, as Hugging Face's "eager" path runs it.

    softmax(q @ k^T * scale + mask) @ v, GQA by repeat_interleave of k and v over the query heads.

Prints one line `torch_ms=<best>`: the best of up to --runs runs after one warm-up, stopping once --budget
seconds of runs have passed. With --inputs it reads q/k/v from <dir>/{query,key,value}.npy instead of drawing
random ones, and with --output it writes the result as .npy, so the caller can check that both sides compute
the same thing. Exits with 3 and a line `torch: unavailable (...)` when torch cannot be imported (the
python3 on PATH may lack it; Debian's is /usr/bin/python3).
"""
import argparse
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as error:
    print(f"torch: unavailable ({error})", flush=True)
    sys.exit(3)


def attention(q, k, v, scale, causal):
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads != kv_heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        seq_q, seq_k = q.shape[2], k.shape[2]
        # Query row r sits at position seq_k - seq_q + r and sees keys j <= that position.
        rows = torch.arange(seq_q).unsqueeze(1) + (seq_k - seq_q)
        hidden = torch.arange(seq_k).unsqueeze(0) > rows
        mask = torch.zeros(seq_q, seq_k).masked_fill(hidden, float("-inf"))
        scores = scores + mask
    return torch.softmax(scores, dim=-1) @ v


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--seq-q", type=int, default=512)
    parser.add_argument("--seq-k", type=int, default=512)
    parser.add_argument("--causal", type=int, choices=(0, 1), default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=10.0,
                        help="stop timing once this many seconds of runs have passed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inputs", help="directory with query.npy, key.npy, value.npy")
    parser.add_argument("--output", help="where to write the result (.npy)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.inputs:
        q, k, v = (torch.from_numpy(np.load(os.path.join(args.inputs, name + ".npy")))
                   for name in ("query", "key", "value"))
    else:
        generator = torch.Generator().manual_seed(0)
        q = torch.randn(args.batch, args.heads, args.seq_q, args.head_dim, generator=generator)
        k = torch.randn(args.batch, args.kv_heads, args.seq_k, args.head_dim, generator=generator)
        v = torch.randn(args.batch, args.kv_heads, args.seq_k, args.head_dim, generator=generator)
    scale = 1.0 / math.sqrt(q.shape[-1])

    best, spent = math.inf, 0.0
    with torch.no_grad():
        out = attention(q, k, v, scale, bool(args.causal))  # warm-up
        for _ in range(args.runs):
            if spent >= args.budget:
                break
            start = time.perf_counter()
            out = attention(q, k, v, scale, bool(args.causal))
            seconds = time.perf_counter() - start
            best, spent = min(best, seconds), spent + seconds
    if args.output:
        np.save(args.output, out.contiguous().numpy())
    print(f"torch_ms={best * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
