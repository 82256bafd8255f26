# bigshare.py: a python3 job that loads a large structure and computes on
# it with multiprocessing workers forked from it (the fork start method),
# as a data-science job does: the workers read the data their parent
# loaded, which they share with it copy-on-write.
# Usage: bigshare.py MIB STOPFILE READYFILE
#
# Round after round, 8 workers hash the data in 64 chunks; every round
# must give the same digest. READYFILE appears after the first round;
# once STOPFILE exists, the round going on is the last.
import hashlib
import multiprocessing
import os
import random
import sys

WORKERS = 8
CHUNKS = 64
DATA = b""


def work(i):
    size = len(DATA) // CHUNKS
    # a memoryview: the worker reads the shared bytes, copies none
    view = memoryview(DATA)[i * size:(i + 1) * size]
    return i, hashlib.sha256(view).hexdigest()


def main():
    global DATA
    mib, stop, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    DATA = random.Random(7).randbytes(mib << 20)
    first = None
    rounds = 0
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        while True:
            digest = hashlib.sha256()
            for i, h in pool.map(work, range(CHUNKS)):
                digest.update(b"%d:%s;" % (i, h.encode()))
            if first is None:
                first = digest.hexdigest()
                open(ready, "w").close()
            elif digest.hexdigest() != first:
                print("bigshare: round %d gave another digest" % rounds)
                return 1
            rounds += 1
            if os.path.exists(stop):
                break
    print("bigshare: %d MiB, %d workers, digest %s, the same every round"
          % (mib, WORKERS, first[:16]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
