"""A lossy link for DTLS tests: ``LossyRelay(target)`` listens on 127.0.0.1
(or ``listen``, "::1" say; ``port``) and relays each client's datagrams to the DTLS server at ``target``
(host, port), through a socket of its own per client, and the server's answers
back, dropping and duplicating some on the way, in both directions.

Only DTLS application-data records (content type 23) are touched: a datagram
whose records are all of type 23 is the n-th of its direction (``up``: client to
server, ``down``: server to client), dropped when n is a multiple of ``drop``,
sent twice when n is a multiple of ``duplicate`` (and not dropped). Handshake
(22), change_cipher_spec (20) and alert (21) records always pass once:
python-mbedtls's DTLS server loses the session when handshake flights are
repeated, so the handshake is left alone and the losses fall on what CoAP must
recover, its requests, acknowledgements and responses. The pattern is fixed:
the same traffic meets the same losses, and two datagrams in a row of one
direction are never both dropped, so a retransmission gets through.

``counts[direction]`` holds ``app`` (application-data datagrams seen),
``dropped``, ``duplicated`` and ``other`` (datagrams passed untouched).
``close()`` stops it.
"""
import select
import socket
import threading

APPLICATION_DATA = 23


def application_data(data):
    """True when ``data`` is one or more DTLS records, all of application data."""
    i = 0
    while i < len(data):
        if len(data) - i < 13 or data[i] != APPLICATION_DATA:
            return False
        i += 13 + (data[i + 11] << 8 | data[i + 12])  # header: type, version, epoch, sequence, length
    return i == len(data) > 0


class LossyRelay:
    def __init__(self, target, drop=3, duplicate=4, listen="127.0.0.1"):
        if drop < 2:
            raise ValueError("drop must be 2 or more: every datagram would be lost")
        self.target = target
        self.drop = drop
        self.duplicate = duplicate
        self.counts = {d: {"app": 0, "dropped": 0, "duplicated": 0, "other": 0} for d in ("up", "down")}
        self.sock = socket.socket(socket.AF_INET6 if ":" in listen else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((listen, 0))
        self.port = self.sock.getsockname()[1]
        self._clients = {}  # client address -> its socket towards the server
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _forward(self, direction, data, send):
        c = self.counts[direction]
        if not application_data(data):
            c["other"] += 1
            send(data)
            return
        c["app"] += 1
        if c["app"] % self.drop == 0:
            c["dropped"] += 1
            return
        send(data)
        if c["app"] % self.duplicate == 0:
            c["duplicated"] += 1
            send(data)

    def _run(self):
        while self._running:
            socks = [self.sock] + list(self._clients.values())
            ready, _, _ = select.select(socks, [], [], 0.05)
            for s in ready:
                if s is self.sock:
                    data, addr = s.recvfrom(65536)
                    up = self._clients.get(addr)
                    if up is None:
                        up = self._clients[addr] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        up.connect(self.target)
                    self._forward("up", data, up.send)
                else:
                    try:
                        data = s.recv(65536)
                    except OSError:  # the server's port closed: nothing to relay
                        continue
                    addr = [a for a, u in self._clients.items() if u is s][0]
                    self._forward("down", data, lambda d, a=addr: self.sock.sendto(d, a))

    def close(self):
        self._running = False
        self._thread.join(2)
        for s in [self.sock] + list(self._clients.values()):
            s.close()
