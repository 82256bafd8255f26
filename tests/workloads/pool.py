# pool.py: python3 with a ThreadPoolExecutor: 6 worker threads hashing
# chunks in parallel, batch after batch until told to stop (wlstop.py);
# results are printed in submission order, so the output does not depend
# on scheduling.
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

from wlstop import Stop


def work(n):
    h = hashlib.sha256(str(n).encode())
    for i in range(12000):
        h = hashlib.sha256(h.digest() + bytes([i & 0xFF]))
    time.sleep(0.02)
    return n, h.hexdigest()[:16]


stop = Stop(1)
batch = 0
with ThreadPoolExecutor(max_workers=6) as pool:
    while not stop(batch):
        for n, d in pool.map(work, range(batch * 12, batch * 12 + 12)):
            print("item %3d: %s" % (n, d))
        batch += 1
print("pool: stopped after %d batches" % batch)
