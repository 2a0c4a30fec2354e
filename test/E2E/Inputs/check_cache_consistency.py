#!/usr/bin/env python3
"""Checks that a model's decode steps (KV cache kept and, for windowed layers, compacted between calls) give
the logits of a fresh prefill over the same tokens (one call: every row in the cache, the kernel's masks
decide visibility).

  check_cache_consistency.py --runner XF_RUN --model model.so --weights DIR --prompt-ids 1,2 --max-new N
      --checkpoints 5,17,40 [--atol 1e-4] [--prefill-chunk C]

With --prefill-chunk the decoding run takes its prompt C tokens per forward (the cache compacted between
chunks too); the fresh prefills stay one forward.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def run(args, prompt, max_new, logits, chunk=0):
    cmd = [args.runner, args.model, "--weights", args.weights, "--prompt-ids", ",".join(map(str, prompt)),
           "--max-new", str(max_new), "--logits", logits, "--quiet", "--prefill-chunk", str(chunk)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = out.splitlines()[0]
    return [int(t) for t in line[len("tokens:"):].split(",")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runner", required=True, help="the xf-run binary")
    p.add_argument("--model", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--prompt-ids", required=True)
    p.add_argument("--max-new", type=int, required=True)
    p.add_argument("--checkpoints", required=True)
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--prefill-chunk", type=int, default=0)
    a = p.parse_args()
    prompt = [int(t) for t in a.prompt_ids.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        decoded = os.path.join(tmp, "decode.npy")
        tokens = run(a, prompt, a.max_new, decoded, a.prefill_chunk)
        steps = np.load(decoded)
        worst = 0.0
        for k in map(int, a.checkpoints.split(",")):
            fresh = os.path.join(tmp, f"prefill{k}.npy")
            run(a, prompt + tokens[:k], 1, fresh)
            diff = float(np.abs(np.load(fresh)[0].astype(np.float64) - steps[k]).max())
            worst = max(worst, diff)
            if diff > a.atol:
                sys.exit(f"step {k}: decode and fresh prefill logits differ by {diff:.3g} > {a.atol}")
    print(f"cache consistent: {len(a.checkpoints.split(','))} checkpoints, max abs diff {worst:.2e}")


if __name__ == "__main__":
    main()
