#!/usr/bin/python3
"""Checks of xf-run's --stop-ids and sampling, from its `tokens:` lines and --logits files.

    check_generation.py stop GREEDY.txt STOPPED.txt STOPPED.npy GREEDY.npy ID
        STOPPED is GREEDY cut right after the first ID, and its logits are GREEDY's first rows.
    check_generation.py same A.txt B.txt | differ A.txt B.txt
        The two runs generated the same tokens / other tokens.
    check_generation.py sampled SAMPLED.txt SAMPLED.npy TOP_K
        Each sampled token is among the TOP_K largest logits of its step (0: any finite one), and the
        tokens are not all the greedy ones.
Prints one `ok ...` line per check; exits 1 with a message otherwise.
"""
import sys

import numpy as np


def tokens(path):
    for line in open(path):
        if line.startswith("tokens:"):
            return [int(t) for t in line.split(":", 1)[1].split(",") if t.strip()]
    sys.exit("%s: no tokens line" % path)


def main(argv):
    mode = argv[1]
    if mode == "stop":
        greedy, stopped = tokens(argv[2]), tokens(argv[3])
        stop_logits, greedy_logits, stop_id = np.load(argv[4]), np.load(argv[5]), int(argv[6])
        if stop_id not in greedy:
            sys.exit("the stop id %d is not among the greedy tokens" % stop_id)
        cut = greedy[:greedy.index(stop_id) + 1]
        if stopped != cut:
            sys.exit("stopped run %s, expected %s" % (stopped, cut))
        if stop_logits.shape != (len(cut), greedy_logits.shape[1]) or not np.array_equal(stop_logits, greedy_logits[:len(cut)]):
            sys.exit("logits %s are not the greedy run's first %d rows" % (stop_logits.shape, len(cut)))
        print("ok stop after %d of %d tokens" % (len(cut), len(greedy)))
    elif mode in ("same", "differ"):
        a, b = tokens(argv[2]), tokens(argv[3])
        if (a == b) != (mode == "same"):
            sys.exit("runs %s: %s vs %s" % ("differ" if mode == "same" else "are the same", a, b))
        print("ok %s" % mode)
    elif mode == "sampled":
        sampled, logits, k = tokens(argv[2]), np.load(argv[3]), int(argv[4])
        if len(sampled) != logits.shape[0]:
            sys.exit("%d tokens for %d logits rows" % (len(sampled), logits.shape[0]))
        for step, (t, row) in enumerate(zip(sampled, logits)):
            rank = int((row > row[t]).sum())
            if k and rank >= k:
                sys.exit("step %d: token %d has rank %d, outside the top %d" % (step, t, rank, k))
        if all(int(np.argmax(row)) == t for t, row in zip(sampled, logits)):
            sys.exit("every sampled token is the greedy one")
        print("ok sampled within the top %s" % (k or "all"))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
