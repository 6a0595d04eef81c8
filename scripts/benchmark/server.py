# Fallback tiny TCP service (no C compiler, no perl): same behaviour as server.c. Usage: python3 server.py PORT
import select, socket, sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
held = []
while True:
    for r in select.select([s, *held], [], [])[0]:
        if r is s:
            held.append(s.accept()[0])
        elif not r.recv(512):
            held.remove(r)
            r.close()
