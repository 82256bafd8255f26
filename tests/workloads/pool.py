# pool.py: python3 with a ThreadPoolExecutor: 6 worker threads hashing
# chunks in parallel for ~3 s; results are printed in submission order, so
# the output does not depend on scheduling.
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor


def work(n):
    h = hashlib.sha256(str(n).encode())
    for i in range(12000):
        h = hashlib.sha256(h.digest() + bytes([i & 0xFF]))
    time.sleep(0.02)
    return n, h.hexdigest()[:16]


with ThreadPoolExecutor(max_workers=6) as pool:
    for batch in range(10):
        for n, d in pool.map(work, range(batch * 12, batch * 12 + 12)):
            print("item %3d: %s" % (n, d))
print("pool: done")
