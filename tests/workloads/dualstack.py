"""dualstack.py PORT: an IPv6 listener that takes IPv4 too (any address,
not IPv6-only), and an IPv4 client of it: the accepted end sees the
client as ::ffff:127.0.0.1. A message waits in each direction across the
freeze."""
import socket
import sys
import time

port = int(sys.argv[1])
lst = socket.socket(socket.AF_INET6)
lst.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
lst.bind(("::", port))
lst.listen()
cli = socket.create_connection(("127.0.0.1", port))
srv, _ = lst.accept()
cli.sendall(b"v4 to dual")
srv.sendall(b"dual to v4")
time.sleep(2.2)
print("server got", srv.recv(64), "from", srv.getpeername()[0],
      "the client's port kept:", cli.getsockname()[1] == srv.getpeername()[1])
print("client got", cli.recv(64))
