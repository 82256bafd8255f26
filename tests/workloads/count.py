#!/usr/bin/env python3
"""count.py: an interpreted job for the freeze/thaw tests.

Chains SHA-256 over a counter, round after round with short sleeps in
between, until told to stop (wlstop.py: a round is its unit), and prints
a progress line per round; the output depends on nothing but the number
of rounds.
"""
import hashlib
import sys
import time

from wlstop import Stop

PER_ROUND = 50000


def main():
    digest = hashlib.sha256(b"jobfreeze").digest()
    words = {}
    stop = Stop()
    print(f"count.py: rounds of {PER_ROUND} hashes")
    r = 0
    while not stop(r):
        r += 1
        for i in range(PER_ROUND):
            digest = hashlib.sha256(digest + i.to_bytes(4, "little")).digest()
        # keep some live Python objects around as well
        words[digest[:2].hex()] = r
        print(f"round {r:2d}: {digest.hex()[:32]} keys={len(words)}")
        time.sleep(0.05)
    total = sum(words.values())
    print(f"count.py: {len(words)} keys, total {total}")
    print(f"count.py: stopped after {r} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
