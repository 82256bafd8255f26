"""tcpclose.py PORT: a TCP connection between two sockets of this process
(and a listener), idle for 2 s after a first exchange; then each end says
what it finds: nothing yet (an uninterrupted run, a plain thaw), or the end
of the stream (thawed with restore --tcp-close); the listener still takes
a new connection."""
import select
import socket
import sys
import time

port = int(sys.argv[1])
lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", port))
lst.listen()
cli = socket.create_connection(("127.0.0.1", port))
srv, _ = lst.accept()
cli.sendall(b"hi")
print("server got", srv.recv(2))
time.sleep(2)
for name, s in (("server", srv), ("client", cli)):
    ready, _, _ = select.select([s], [], [], 0.2)
    if not ready:
        print(name, "end: nothing yet")
        continue
    try:
        data = s.recv(16)
        print(name, "end:", "the end of the stream" if not data else data)
    except ConnectionResetError:
        print(name, "end: reset")
new = socket.create_connection(("127.0.0.1", port))
print("the listener takes a new connection:", lst.accept()[0] is not None)
