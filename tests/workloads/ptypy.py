# ptypy.py: python's pty module drives an interactive child (a line
# reader that answers each line), one line at a time, ~50 ms apart, and
# prints the whole dialogue as the terminal side saw it (echo included).
import os
import pty
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 60

pid, fd = pty.fork()
if pid == 0:
    for line in sys.stdin:
        print("got", line.strip().upper(), flush=True)
    print("child: end of input", flush=True)
    os._exit(0)

out = sys.stdout.buffer
for i in range(ROUNDS):
    os.write(fd, b"word%d\n" % i)
    want, buf = b"got WORD%d\r\n" % i, b""
    while not buf.endswith(want):
        buf += os.read(fd, 1024)
    out.write(buf.replace(b"\r", b"<CR>"))
    out.flush()
    time.sleep(0.05)
os.write(fd, b"\x04")
rest = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    rest += chunk
out.write(rest.replace(b"\r", b"<CR>"))
_, st = os.waitpid(pid, 0)
print("child exited", os.waitstatus_to_exitcode(st), flush=True)
