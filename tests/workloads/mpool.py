# mpool.py: python3 multiprocessing.Pool of 3 worker processes hashing
# chunks, batch after batch until told to stop (wlstop.py); results in
# submission order.
import hashlib
import time
from multiprocessing import Pool

from wlstop import Stop


def work(n):
    h = hashlib.sha256(str(n).encode())
    for i in range(12000):
        h = hashlib.sha256(h.digest() + bytes([i & 0xFF]))
    time.sleep(0.02)
    return n, h.hexdigest()[:16]


if __name__ == "__main__":
    stop = Stop(1)
    batch = 0
    with Pool(3) as pool:
        while not stop(batch):
            for n, d in pool.map(work, range(batch * 12, batch * 12 + 12)):
                print("item %3d: %s" % (n, d))
            batch += 1
    print("mpool: stopped after %d batches" % batch)
