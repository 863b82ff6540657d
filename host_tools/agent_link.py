"""The agent link: requests and answers in frames, with retransmission, to the
provisioning agent on the board (``port_micropython/provision_agent.py``, whose
docstring is the protocol's reference; the frames, CRC and contents are
``tinyest.serialwire``, which the agent imports too).

Everything here talks to a pyserial-like port: ``read(n)`` returning what
arrived within the port's timeout, ``write(data)``, ``in_waiting``. Nothing
prints; progress goes to a callback.

Link (``Link``)
    Stop and wait: one request at a time, retransmitted unchanged after a
    retransmission timeout of silence (four smoothed round trips of clean
    exchanges, between 50 ms and ``frame_timeout``), and at once on a NAK or a
    damaged frame (at most ``MAX_QUICK`` times per request, so that a port that
    answers every frame with noise cannot drive a storm); the interval doubles up
    to 2 s while the device has acknowledged and works. ``answer_timeout`` bounds
    the wait for an answer (``slow_timeout`` after the acknowledgement of a slow
    command). Frames are decoded as soon as their length and CRC are complete.
    ``AgentClient.put``/``read`` cut files into chunks whose size follows the
    line: halved after a retransmission or three unanswered tries, doubled after
    four clean exchanges (32 octets to the agent's maximum).

No secret comes back from the board, nor a plain digest of one: the agent's HASH
and READBACK answer with HMAC-SHA256 under a key the host chooses afresh for each
(``tinyest.serialwire.fresh_key``).
"""


import os
import struct
import time

from tinyest.serialwire import (ABORT, BAD, BEGIN, CERT, COMMIT, E_OFFSET, E_TRANSFER, GENKEY, HASH, HELLO,
                                INFO, OK, PROTO, PUT, QUIT, READ, READBACK, REBOOT, SLOW, T_ACK, T_NAK,
                                T_REQ, T_RESP, WIPE, Decoder, encode)

STATUS_NAMES = {1: "unknown command", 2: "bad arguments", 3: "no transfer", 4: "wrong offset",
                5: "no space", 6: "invalid data", 7: "digest mismatch", 8: "store error",
                9: "no pending key", 10: "internal error"}
HOST_MAX_PAYLOAD = 4096
MAX_QUICK = 24  # resends on NAKs and damaged frames per request; then the timer only


class LinkError(Exception):
    """The device does not answer (cable, driver, wrong port, device gone)."""


class DeviceError(Exception):
    """The device answered with an error status."""

    def __init__(self, status, message):
        Exception.__init__(self, "%s (%s)" % (message or STATUS_NAMES.get(status, "error"),
                                              STATUS_NAMES.get(status, "status %d" % status)))
        self.status = status
        self.message = message


class Unanswered(LinkError):
    """A request went unanswered for its allowed number of tries."""


class TransferLost(DeviceError):
    """The device no longer has the transfer: it restarted."""


class Link:
    """Requests and answers over one port (see the module text)."""

    def __init__(self, port, frame_timeout=0.5, answer_timeout=8.0, slow_timeout=120.0):
        self.port = port
        self.frame_timeout = frame_timeout
        self.answer_timeout = answer_timeout
        self.slow_timeout = slow_timeout
        self.srtt = None
        self.dec = Decoder(HOST_MAX_PAYLOAD)
        self.pending = []
        self.seq = int.from_bytes(os.urandom(2), "big") % 0xFFF0
        self.stats = {"requests": 0, "retransmissions": 0, "damaged": 0, "naks": 0, "octets_out": 0,
                      "octets_in": 0}
        self.last_tries = 0
        self.heard_agent = False  # a well-formed agent frame arrived at some point

    def rto(self):
        """Retransmission timeout: four smoothed round trips, within 50 ms and
        ``frame_timeout``."""
        if self.srtt is None:
            return self.frame_timeout
        return min(self.frame_timeout, max(0.05, 4 * self.srtt))

    def _send(self, frame):
        self.port.write(frame)
        self.stats["octets_out"] += len(frame)

    def _next(self, until):
        """The next frame or BAD; None when ``until`` (monotonic) passes first."""
        while True:
            if self.pending:
                return self.pending.pop(0)
            if time.monotonic() >= until:
                return None
            data = self.port.read(max(1, self.port.in_waiting))
            if data:
                self.stats["octets_in"] += len(data)
                for r in self.dec.feed(data):
                    if r is not BAD and r[0] in (T_RESP, T_ACK, T_NAK):
                        self.heard_agent = True
                    self.pending.append(r)

    def drain(self):
        """Forget what has arrived so far."""
        self.pending = []
        n = self.port.in_waiting
        while n:
            self.port.read(n)
            n = self.port.in_waiting

    def request(self, payload, slow=False, answer_timeout=None, max_tries=None, eager=True):
        """Send one request; return the response payload. ``max_tries``: give up
        (Unanswered) after that many transmissions without an acknowledgement.
        ``eager=False`` (probing a port that may not run the agent: a REPL echoes
        and talks back) resends on the timer only."""
        self.seq = (self.seq + 1) % 0xFFFF
        seq = self.seq
        frame = encode(T_REQ, seq, payload)
        self.stats["requests"] += 1
        start = time.monotonic()
        give_up = start + (answer_timeout or self.answer_timeout)
        interval = self.rto()
        tries = 0
        acked = False
        quick = 0

        def resend(now):
            nonlocal tries, next_try
            if max_tries and tries >= max_tries and not acked:
                self.last_tries = tries
                raise Unanswered("no answer after %d tries" % tries)
            self._send(frame)
            tries += 1
            if tries > 1:
                self.stats["retransmissions"] += 1
            next_try = now + interval

        next_try = start
        resend(start)
        while True:
            r = self._next(min(next_try, give_up))
            now = time.monotonic()
            if r is None:
                if now >= give_up:
                    self.last_tries = tries
                    raise LinkError("no answer from the device (%d tries)" % tries)
                if now >= next_try:
                    if acked:
                        interval = min(interval * 2, 2.0)
                    resend(now)
                continue
            if r is BAD or r[0] == T_NAK:
                self.stats["damaged" if r is BAD else "naks"] += 1
                if eager and quick < MAX_QUICK:
                    quick += 1
                    resend(now)
                continue
            ftype, rseq, data = r[:3]
            if rseq != seq or ftype == T_REQ:
                continue  # an old answer, or our own frame echoed
            if ftype == T_ACK:
                if not acked:
                    acked = True
                    if slow:
                        give_up = max(give_up, now + self.slow_timeout)
                continue
            if ftype == T_RESP:
                self.last_tries = tries
                if tries == 1 and not acked:
                    rtt = now - start
                    self.srtt = rtt if self.srtt is None else 0.875 * self.srtt + 0.125 * rtt
                return data


class AgentClient:
    """The agent's commands over a Link."""

    def __init__(self, link):
        self.link = link
        self.max_payload = 256
        self.version = None
        self.chunk = 256

    def call(self, cmd, args=b"", answer_timeout=None, max_tries=None):
        data = self.link.request(bytes((cmd,)) + bytes(args), slow=cmd in SLOW,
                                 answer_timeout=answer_timeout, max_tries=max_tries)
        if not data:
            raise LinkError("empty answer from the device")
        status = data[0]
        if status != OK:
            msg = data[1:].decode("utf-8", "replace")
            if status == E_TRANSFER:
                raise TransferLost(status, msg)
            raise DeviceError(status, msg)
        return data[1:]

    def hello(self, answer_timeout=None, probe=False):
        nonce = os.urandom(8)
        d = self.link.request(bytes((HELLO,)) + nonce, answer_timeout=answer_timeout, eager=not probe)
        if not d or d[0] != OK:
            raise DeviceError(d[0] if d else 0, d[1:].decode("utf-8", "replace"))
        d = d[1:]
        if len(d) < 11 or d[3:11] != nonce:
            raise LinkError("the device answered HELLO with a wrong nonce")
        proto, maxp = struct.unpack(">BH", d[:3])
        if proto != PROTO:
            raise DeviceError(0, "agent protocol %d (this tool speaks %d): put the current "
                              "provision_agent.py on the board" % (proto, PROTO))
        self.max_payload = maxp
        self.version = d[11:].decode("utf-8", "replace")
        self.chunk = min(self.chunk, maxp - 32)
        return {"proto": proto, "max": maxp, "agent": self.version}

    def info(self):
        out = {}
        for line in self.call(INFO).decode("utf-8", "replace").splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def begin(self):
        self.call(BEGIN)

    @staticmethod
    def _name(name):
        n = name.encode()
        return bytes((len(n),)) + n

    def put(self, name, data, progress=None):
        """Send one file in chunks. The chunk size adapts to the line: halved when
        a chunk needed retransmissions or went unanswered (the same octets are
        then sent again in smaller chunks), doubled after four clean ones."""
        data = bytes(data)
        off = 0
        clean = 0
        top = self.max_payload - 8 - len(name)
        give_up = time.monotonic() + self.link.answer_timeout
        while True:
            n = min(self.chunk, top)
            part = data[off:off + n]
            small = self.chunk <= 32
            try:
                got = self.call(PUT, self._name(name) + struct.pack(">I", off) + part,
                                max_tries=None if small else 3)
            except Unanswered:
                if time.monotonic() >= give_up:
                    raise LinkError("no answer from the device")
                self.chunk = max(32, self.chunk // 2)
                clean = 0
                continue
            have = struct.unpack(">I", got)[0]
            if have < off + len(part) or have > len(data):
                raise DeviceError(E_OFFSET, "%s: the device holds %d octets" % (name, have))
            off = have
            give_up = time.monotonic() + self.link.answer_timeout
            if self.link.last_tries > 1:
                self.chunk = max(32, self.chunk // 2)
                clean = 0
            else:
                clean += 1
                if clean >= 4:
                    self.chunk = min(top, self.chunk * 2)
                    clean = 0
            if progress:
                progress(name, off, len(data))
            if off >= len(data):
                return

    def hash(self, name, key):
        """(length, HMAC-SHA256 under key) of a staged file."""
        d = self.call(HASH, bytes(key) + self._name(name))
        return struct.unpack(">I", d[:4])[0], d[4:36]

    def read(self, name, length):
        out = bytearray()
        give_up = time.monotonic() + self.link.answer_timeout
        while len(out) < length:
            n = min(length - len(out), self.chunk, self.max_payload - 16)
            try:
                d = self.call(READ, self._name(name) + struct.pack(">IH", len(out), n),
                              max_tries=None if self.chunk <= 32 else 3)
            except Unanswered:
                if time.monotonic() >= give_up:
                    raise LinkError("no answer from the device")
                self.chunk = max(32, self.chunk // 2)
                continue
            if not d:
                raise DeviceError(0, "%s: short read" % name)
            out += d
            give_up = time.monotonic() + self.link.answer_timeout
        return bytes(out)

    def genkey(self, cn, curve="P-256"):
        d = self.call(GENKEY, self._name(curve) + cn.encode())
        return struct.unpack(">I", d[:4])[0], d[4:36]

    def commit(self, digest):
        return struct.unpack(">I", self.call(COMMIT, digest))[0]

    def readback(self, key, items=False):
        """(count, HMAC-SHA256 under key of the set digest) of what the store holds;
        with ``items`` also {name: (length, HMAC-SHA256 under key)} of each item."""
        key = bytes(key)
        d = self.call(READBACK, key)
        count, digest = d[0], d[1:33]
        if not items:
            return count, digest, None
        out = {}
        for i in range(count):
            r = self.call(READBACK, key + bytes((i,)))
            n = r[0]
            name = r[1:1 + n].decode("utf-8", "replace")
            out[name] = (struct.unpack(">I", r[1 + n:5 + n])[0], r[5 + n:37 + n])
        return count, digest, out

    def cert(self):
        return struct.unpack(">I", self.call(CERT))[0]

    def wipe(self):
        self.call(WIPE)

    def abort(self):
        self.call(ABORT)

    def reboot(self):
        self.call(REBOOT)

    def quit(self):
        self.call(QUIT)
