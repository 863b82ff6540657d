"""tinyest.coap on both runtimes: the CoAP message codec and block option values.
The vectors were written from RFC 7252 section 3 and RFC 7959 section 2.2, and
tests/host/test_coap_host.py checks each against aiocoap, an independent
implementation."""

from _t import h, raises

from tinyest import coap, runtime
from tinyest.errors import FormatError, ProtocolError

# A confirmable GET, Message ID 0x7d34, token 0x20, Uri-Path "temperature"
GET_TEMPERATURE = h("41 01 7d34 20 bb 74656d7065726174757265")
# A piggybacked 2.05 Content to it: Content-Format 281 (2 octets), payload "x"
CONTENT_281 = h("61 45 7d34 20 c2 0119 ff 78")
# Options needing the extended forms: Uri-Path (11) of 13 octets (length nibble
# 13 and 0x00), Size1 (60: delta 49 = 13 + 0x24) of 300 (2 octets), then option
# 2000 (delta 1940 = 269 + 0x0687: nibble 14) with an empty value
EXTENDED = h("40 02 0001 bd00 61616161616161616161616161 d2 24 012c e0 0687")
# Block2 (23: delta 13 + 0x0a) num 2, more, 64 octets (szx 2): 0x2a; Block1
# (27: delta 4) num 1048575 (20 bits), last, 1024 octets (szx 6): 0xfffff6
BLOCKS = h("40 01 0002 d1 0a 2a 43 fffff6")


def test_decode_vectors():
    m = coap.decode(GET_TEMPERATURE)
    assert (m.mtype, m.code, m.mid, m.token) == (coap.CON, coap.GET, 0x7D34, b"\x20")
    assert m.options == [(coap.URI_PATH, b"temperature")] and m.payload == b""
    m = coap.decode(CONTENT_281)
    assert (m.mtype, m.code, m.mid, m.token) == (coap.ACK, coap.CONTENT, 0x7D34, b"\x20")
    assert m.uint(coap.CONTENT_FORMAT) == coap.PKCS7_CERTS and m.payload == b"x"
    m = coap.decode(EXTENDED)
    assert m.options == [(coap.URI_PATH, b"a" * 13), (coap.SIZE1, b"\x01\x2c"), (2000, b"")]
    assert m.uint(coap.SIZE1) == 300 and m.uint(coap.SIZE2) is None
    m = coap.decode(BLOCKS)
    assert m.block(coap.BLOCK2) == (2, True, 64)
    assert m.block(coap.BLOCK1) == (0xFFFFF, False, 1024)


def test_encode_vectors():
    assert coap.encode(coap.Message(coap.CON, coap.GET, 0x7D34, b"\x20", [(coap.URI_PATH, b"temperature")])) \
        == GET_TEMPERATURE
    # options are written in number order, whatever order they were given in
    m = coap.Message(coap.CON, coap.POST, 1, b"", [(2000, b""), (coap.SIZE1, coap.uint_bytes(300)),
                                                   (coap.URI_PATH, b"a" * 13)])
    assert coap.encode(m) == EXTENDED
    m = coap.Message(coap.CON, coap.GET, 2, b"", [(coap.BLOCK1, coap.block_value(0xFFFFF, False, 1024)),
                                                  (coap.BLOCK2, coap.block_value(2, True, 64))])
    assert coap.encode(m) == BLOCKS
    m = coap.Message(coap.ACK, coap.CONTENT, 0x7D34, b"\x20", [(coap.CONTENT_FORMAT, coap.uint_bytes(281))], b"x")
    assert coap.encode(m) == CONTENT_281


def test_repeated_options_keep_their_order():
    segs = [b".well-known", b"est", b"sen"]
    m = coap.Message(coap.CON, coap.POST, 9, b"tk", [(coap.CONTENT_FORMAT, coap.uint_bytes(coap.PKCS10))] +
                     [(coap.URI_PATH, s) for s in segs] + [(coap.URI_HOST, b"est.example")])
    back = coap.decode(coap.encode(m))
    assert [v for n, v in back.options if n == coap.URI_PATH] == segs
    assert back.first(coap.URI_HOST) == b"est.example" and back.uint(coap.CONTENT_FORMAT) == 286
    assert [n for n, _ in back.options] == [3, 11, 11, 11, 12]


def test_round_trip_every_length_form():
    for number in (1, 12, 13, 268, 269, 270, 1000, 65535):
        for size in (0, 12, 13, 268, 269, 270, 1000):
            m = coap.Message(coap.NON, coap.CONTENT, 0xFFFF, b"12345678", [(number, b"v" * size)], b"p")
            back = coap.decode(coap.encode(m))
            assert back.options == [(number, b"v" * size)], (number, size)
            assert (back.mtype, back.code, back.mid, back.token, back.payload) == \
                (coap.NON, coap.CONTENT, 0xFFFF, b"12345678", b"p")


def test_uint_and_block_values():
    assert [coap.uint_bytes(n) for n in (0, 1, 255, 256, 0x1000000)] == \
        [b"", b"\x01", b"\xff", b"\x01\x00", b"\x01\x00\x00\x00"]
    assert coap.block_value(0, False, 16) == b""
    assert coap.block_value(0, True, 1024) == b"\x0e"
    assert coap.block_value(1, False, 16) == b"\x10"
    for bad in ((0, False, 2048), (0, False, 8), (0, False, 100), (1 << 20, False, 16), (-1, False, 16)):
        raises(FormatError, coap.block_value, *bad)
    # leading zero octets are read (RFC 7252 3.2); an empty value is 0
    m = coap.decode(h("40 01 0000 c2 0000"))
    assert m.uint(coap.CONTENT_FORMAT) == 0
    m = coap.decode(h("40 01 0000 d0 0a"))
    assert m.block(coap.BLOCK2) == (0, False, 16)


def test_option_length_out_of_range():
    # a critical option (Block2, 23) of 4 octets: the message is rejected
    m = coap.decode(h("40 01 0000 d4 0a 00000010"))
    raises(ProtocolError, m.block, coap.BLOCK2)
    # an elective one (Content-Format, 12) of 3 octets: ignored
    m = coap.decode(h("40 01 0000 c3 000119"))
    assert m.uint(coap.CONTENT_FORMAT) is None
    # the reserved size exponent 7
    raises(ProtocolError, coap.decode(h("40 01 0000 d1 0a 17")).block, coap.BLOCK2)


def test_malformed_datagrams():
    bad = [
        ("short", h("4001 00")),
        ("version 0", h("01 01 0000")),
        ("version 2", h("81 01 0000")),
        ("token length 9", h("49 01 0000 010203040506070809")),
        ("token past the end", h("44 01 0000 0102")),
        ("Empty with a token", h("41 00 0000 01")),
        ("Empty with a payload", h("60 00 0000 ff 00")),
        ("marker without payload", h("40 01 0000 ff")),
        ("delta nibble 15", h("40 01 0000 f0")),
        ("length nibble 15", h("40 01 0000 bf")),
        ("delta 13 without its octet", h("40 01 0000 d0")),
        ("delta 14 with one octet", h("40 01 0000 e0 01")),
        ("length 14 with one octet", h("40 01 0000 be 01")),
        ("value past the end", h("40 01 0000 b5 6162")),
        ("option number past 65535", h("40 01 0000 e0 fef3 e0 0001")),
    ]
    for name, data in bad:
        e = raises(ProtocolError, coap.decode, data)
        assert str(e), name
    # at most MAX_OPTIONS options
    many = h("40 01 0000") + b"\x10" * coap.MAX_OPTIONS
    assert len(coap.decode(many).options) == coap.MAX_OPTIONS
    raises(ProtocolError, coap.decode, many + b"\x00")
    # an Empty ACK and an RST are four octets
    assert coap.decode(h("60 00 1234")).mtype == coap.ACK
    assert coap.decode(h("70 00 1234")).mtype == coap.RST


def test_encode_refuses_bad_fields():
    for m in (coap.Message(coap.CON, coap.GET, 0x10000), coap.Message(4, coap.GET, 0),
              coap.Message(coap.CON, 256, 0), coap.Message(coap.CON, coap.GET, 0, b"123456789"),
              coap.Message(coap.CON, coap.GET, 0, b"", [(-1, b"")]),
              coap.Message(coap.CON, coap.GET, 0, b"", [(0x10000, b"")])):
        raises(FormatError, coap.encode, m)


# ---------------------------------------------------------------- Endpoint against a scripted server


class Peer:
    """A datagram socket whose far end is ``handler(request Message)`` -> the
    response Messages, answered at once; ``log`` keeps every request decoded.
    With nothing to read it fails as a DTLS socket does on each runtime: a
    non-blocking read with EAGAIN; a read with a timeout with ETIMEDOUT, on
    MicroPython then every later call too (its mbedTLS socket keeps the error:
    measured on the unix port, 32- and 64-bit)."""

    def __init__(self, handler):
        self.handler = handler
        self.log = []
        self.queue = []
        self.timeout = None
        self.dead = False

    def send(self, data):
        if self.dead:
            raise OSError(110)
        m = coap.decode(data)
        self.log.append(m)
        self.queue += [coap.encode(r) for r in self.handler(m)]

    def recv(self, n):
        if self.dead:
            raise OSError(110)
        if not self.queue:
            if self.timeout == 0:
                raise OSError(11)  # EAGAIN: nothing yet
            self.dead = runtime.MICROPYTHON
            raise OSError(110)  # ETIMEDOUT: nothing came
        return self.queue.pop(0)

    def settimeout(self, seconds):
        self.timeout = seconds


def body(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def blocks_server(block1, block2, answer):
    """A block-wise server (RFC 7959) with its own sizes: request bodies taken
    in blocks of at most ``block1`` octets (a bigger block gets a 2.31 naming
    ``block1``, a bigger whole body a 4.13 naming it), ``answer(body)`` sent in
    Block2 blocks of ``block2`` octets whatever the request asked. ``got`` the
    bodies it assembled."""
    state = {"body": b"", "answer": b""}
    got = []

    def handler(m):
        def reply(code, opts, payload=b""):
            return [coap.Message(coap.ACK, code, m.mid, m.token, opts, payload)]

        b1, b2 = m.block(coap.BLOCK1), m.block(coap.BLOCK2)
        if b1 is None and len(m.payload) > block1:
            return reply(0x8D, [(coap.BLOCK1, coap.block_value(0, False, block1))])
        if b1 is not None:
            num, more, size = b1
            if num == 0:
                state["body"] = b""
            assert num * size == len(state["body"]) and m.uint(coap.CONTENT_FORMAT) == coap.PKCS10
            state["body"] += m.payload
            if more:
                return reply(coap.CONTINUE, [(coap.BLOCK1, coap.block_value(num, True, min(size, block1)))])
        if b2 is None or b2[0] == 0:
            got.append(state["body"] if b1 is not None else m.payload)
            state["answer"] = answer(got[-1])
        num = 0 if b2 is None else b2[0] * b2[2] // block2
        whole = state["answer"]
        more = (num + 1) * block2 < len(whole)
        opts = [(coap.BLOCK2, coap.block_value(num, more, block2))]
        if b1 is not None:
            opts.append((coap.BLOCK1, coap.block_value(b1[0], False, b1[2])))
        return reply(coap.CHANGED, opts, whole[num * block2:(num + 1) * block2])

    return handler, got


def _post(handler, payload, **kw):
    peer = Peer(handler)
    m = coap.Endpoint(peer, **kw).request(coap.POST, "/est/sen", payload, coap.PKCS10)
    return m, peer.log


def test_block1_at_the_size_a_2_31_asks_for():
    # 2500 octets, the first block of 1024 answered 2.31 naming 256: the rest in
    # blocks of 256, numbered from 4 (RFC 7959 2.3)
    handler, got = blocks_server(256, 64, lambda b: bytes(x ^ 0x5A for x in b[:300]))
    m, log = _post(handler, body(2500))
    assert got == [body(2500)] and m.code == coap.CHANGED and m.payload == bytes(x ^ 0x5A for x in body(300))
    sent = [(r.block(coap.BLOCK1), len(r.payload)) for r in log]
    assert sent[:3] == [((0, True, 1024), 1024), ((4, True, 256), 256), ((5, True, 256), 256)]
    assert sent[5] == ((8, True, 256), 256) and sent[6] == ((9, False, 256), 196)
    # then the answer's other blocks of 64: the POST again without a body or Block1
    assert [r.block(coap.BLOCK2) for r in log[7:]] == [(n, False, 64) for n in range(1, 5)]
    assert all(r.block(coap.BLOCK1) is None and not r.payload for r in log[7:])
    assert len(log) == 11 and log[0].uint(coap.SIZE1) == 2500


def test_block1_after_a_4_13():
    # a body sent whole, refused with 4.13 naming 64 octets (RFC 7959 2.9.3): again, in blocks of 64
    handler, got = blocks_server(64, 1024, lambda b: b"issued")
    m, log = _post(handler, body(300))
    assert got == [body(300)] and (m.code, m.payload) == (coap.CHANGED, b"issued")
    assert [r.block(coap.BLOCK1) for r in log] == [None] + [(n, n < 4, 64) for n in range(5)]
    assert [len(r.payload) for r in log] == [300, 64, 64, 64, 64, 44]
    assert log[1].uint(coap.SIZE1) == 300 and log[2].uint(coap.SIZE1) is None
    # a 4.13 without Block1, or naming no smaller size, is the answer
    for opts in ([], [(coap.BLOCK1, coap.block_value(0, False, 1024))]):
        m, log = _post(lambda r: [coap.Message(coap.ACK, 0x8D, r.mid, r.token, opts)], body(300))
        assert m.code == 0x8D and len(log) == 1
    # a server refusing every block too: the body is tried once more in its blocks, then the 4.13 is the answer
    m, log = _post(lambda r: [coap.Message(coap.ACK, 0x8D, r.mid, r.token, [(coap.BLOCK1, coap.block_value(
        0, False, 16))])], body(300))
    assert m.code == 0x8D and [r.block(coap.BLOCK1) for r in log] == [None, (0, True, 16)]


def test_a_lost_answer_leaves_the_session_usable():
    # the first transmission goes unanswered: the request is sent again, and the
    # socket still works afterwards (on MicroPython a timed-out DTLS read would end it)
    def handler(m):
        if len(peer.log) == 1:
            return []
        return [coap.Message(coap.ACK, coap.CONTENT, m.mid, m.token, [], b"ok")]

    peer = Peer(handler)
    ep = coap.Endpoint(peer, ack_timeout=0.05)
    assert ep.request(coap.GET, "/est/crts").payload == b"ok"
    assert len(peer.log) == 2 and peer.log[0].mid == peer.log[1].mid and not peer.dead
    assert ep.request(coap.GET, "/est/crts").payload == b"ok" and len(peer.log) == 3
