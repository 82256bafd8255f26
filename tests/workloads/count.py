#!/usr/bin/env python3
"""count.py: an interpreted job for the freeze/thaw tests.

Chains SHA-256 over a counter for a fixed number of rounds, with short
sleeps in between, and prints a progress line per round. Takes about 3 s;
the output depends on nothing but the code.
"""
import hashlib
import sys
import time

ROUNDS = 30
PER_ROUND = 50000


def main():
    digest = hashlib.sha256(b"jobfreeze").digest()
    words = {}
    print(f"count.py: {ROUNDS} rounds of {PER_ROUND} hashes")
    for r in range(1, ROUNDS + 1):
        for i in range(PER_ROUND):
            digest = hashlib.sha256(digest + i.to_bytes(4, "little")).digest()
        # keep some live Python objects around as well
        words[digest[:2].hex()] = r
        print(f"round {r:2d}: {digest.hex()[:32]} keys={len(words)}")
        time.sleep(0.05)
    total = sum(words.values())
    print(f"count.py: done, {len(words)} keys, total {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
