# mpool.py: python3 multiprocessing.Pool of 3 worker processes hashing
# chunks for ~3 s; results in submission order.
import hashlib
import time
from multiprocessing import Pool


def work(n):
    h = hashlib.sha256(str(n).encode())
    for i in range(12000):
        h = hashlib.sha256(h.digest() + bytes([i & 0xFF]))
    time.sleep(0.02)
    return n, h.hexdigest()[:16]


if __name__ == "__main__":
    with Pool(3) as pool:
        for batch in range(10):
            for n, d in pool.map(work, range(batch * 12, batch * 12 + 12)):
                print("item %3d: %s" % (n, d))
    print("mpool: done")
