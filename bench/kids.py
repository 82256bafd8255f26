# kids.py N READYFILE: a python3 parent that forks N children, each of
# which makes 256 KiB of its own and sleeps, as pre-fork servers and worker
# pools do; READYFILE appears once every child has its memory. Used by
# bench/tree.sh.
import os
import sys
import time

n, ready = int(sys.argv[1]), sys.argv[2]
r, w = os.pipe()
for i in range(n):
    if os.fork() == 0:
        os.close(r)
        own = bytearray(os.urandom(256 * 1024))
        os.write(w, b"x")
        os.close(w)
        while True:
            time.sleep(1)
os.close(w)
got = 0
while got < n:
    got += len(os.read(r, 4096))
os.close(r)
open(ready, "w").close()
while True:
    time.sleep(1)
