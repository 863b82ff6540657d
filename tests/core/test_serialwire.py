"""The provisioning wire format (tinyest.serialwire), which the board's agent and
the host both import: known-answer frames and digests (worked out with zlib,
hmac and hashlib on CPython), the decoder against a table of damaged lines, the
config text with its refusals, and the items a store is reported as."""
import hashlib
import struct

from tinyest import serialwire as w
from tinyest.store import Credentials, Pending
from _t import h, raises, vector

# encode(T_REQ, 0x1234, 03 7e 7d 00 "ok"): every control octet, flag and escape escaped.
FRAME = h("7e517d32347d207d267d237d5e7d5d7d206f6b80c7ddc07e")
FRAME_PAYLOAD = b"\x03\x7e\x7d\x00ok"
FRAME_CRC = 0x80C7DDC0


def _octets(seed, n):
    out = bytearray()
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(seed >> 16 & 0xFF)
    return bytes(out)


def test_crc32_soft_gives_the_check_value_and_agrees_with_crc32():
    assert w.crc32_soft(b"123456789") == 0xCBF43926  # the CRC-32 check value
    assert w.crc32(b"123456789") == 0xCBF43926
    for n in (0, 1, 2, 9, 100, 777):
        data = _octets(n, n)
        assert w.crc32_soft(data) == w.crc32(data), n


def test_encode_matches_the_known_frame():
    assert w.encode(w.T_REQ, 0x1234, FRAME_PAYLOAD) == FRAME
    assert w.Decoder(64).feed(FRAME) == [(w.T_REQ, 0x1234, FRAME_PAYLOAD, FRAME_CRC)]


def test_frames_round_trip_and_carry_no_control_octets():
    for i in range(40):
        payload = _octets(i, (i * 37) % 600)
        seq = (i * 4099) & 0xFFFF
        f = w.encode(w.T_RESP, seq, payload)
        assert f[0] == w.FLAG and f[-1] == w.FLAG
        assert all(b >= 0x20 and b not in (0x7E, 0x7F) for b in f[1:-1]), i
        got = w.Decoder(600).feed(f)
        assert len(got) == 1 and got[0][:3] == (w.T_RESP, seq, payload), i
        dec = w.Decoder(600)
        one = [r for r in [dec.byte(b) for b in f] if r is not None]
        assert one == got, i


def test_decoder_resynchronises_and_reports_damage():
    f1 = w.encode(w.T_REQ, 1, b"\x03first")
    f2 = w.encode(w.T_REQ, 2, b"second\x04")
    cases = [
        ("banner before", b"MicroPython v1.29\r\n>>> " + f1, ["bad", 1]),
        ("printable noise before", b"MicroPython v1.29 >>> " + f1, ["bad", 1]),
        ("two frames", f1 + f2, [1, 2]),
        ("closing flag lost", f1[:-1] + f2, [1, 2]),
        ("one octet flipped", f1[:6] + bytes([f1[6] ^ 0x40]) + f1[7:] + f2, ["bad", 2]),
        ("one octet dropped", f1[:5] + f1[6:] + f2, ["bad", 2]),
        ("raw control octet inside", f1[:4] + b"\n" + f1[4:] + f2, ["bad", 2]),
        ("escape escaped", f1[:4] + b"\x7d\x7d" + f1[4:] + f2, ["bad", 2]),
        ("length beyond the limit", b"\x7e\x51\x00\x01\xff\xff" + b"x" * 20 + b"\x7e" + f2, ["bad", 2]),
        ("opening flag lost", f1 + f2[1:], [1, 2]),
        ("both flags between lost", f1[:-1] + f2[1:], [1, "bad"]),
    ]
    for name, wire, want in cases:
        got = [("bad" if r is w.BAD else r[1]) for r in w.Decoder(1024).feed(wire)]
        assert got == want, name


def test_config_text_is_canonical():
    cases = [
        ({"host": "est.example", "port": 8443, "label": "iot"},
         b"host=s:est.example\nlabel=s:iot\nport=i:8443\n"),
        ({"flag": True, "off": False, "blob": b"\x00\xff", "n": -5, "t": "a=b:c", "e": ""},
         b"blob=x:00ff\ne=s:\nflag=t:1\nn=i:-5\noff=t:0\nt=s:a=b:c\n"),
        ({}, b""),
    ]
    for cfg, text in cases:
        assert w.render_config(cfg) == text
        assert w.parse_config(text) == cfg


def test_config_text_refusals():
    unreadable = [
        ("not sorted", b"port=i:1\nhost=s:x\n"),
        ("name repeated", b"host=s:x\nhost=s:y\n"),
        ("unknown type", b"host=q:x\n"),
        ("no line end", b"host=s:x"),
        ("bad integer", b"port=i:12a\n"),
        ("integer not canonical", b"port=i:+1\n"),
        ("empty name", b"=s:x\n"),
        ("boolean 2", b"flag=t:2\n"),
        ("not UTF-8", b"\xff=s:x\n"),
        ("bad hex", b"blob=x:zz\n"),
        ("upper-case hex", b"blob=x:FF\n"),
        ("carriage return in a value", b"host=s:a\rb\n"),
        ("carriage return in a name", b"ho\rst=s:a\n"),
        ("no type", b"host=x\n"),
    ]
    for name, text in unreadable:
        raises(ValueError, w.parse_config, text)
    unwritable = [
        ("empty name", {"": "x"}),
        ("= in a name", {"a=b": "x"}),
        ("line end in a name", {"a\nb": "x"}),
        ("line end in a value", {"host": "a\nport=i:1"}),
        ("carriage return in a value", {"host": "a\rb"}),
    ]
    for name, cfg in unwritable:
        raises(ValueError, w.render_config, cfg)


def test_set_digest_known_answer():
    files = {"trust": b"\x30\x00", "boot_password": b"p", "config": b"host=s:x\n", "boot_user": b"u",
             "not a file": b"ignored"}
    want = hashlib.sha256()
    for name in ("config", "trust", "boot_user", "boot_password"):
        want.update(name.encode() + b"\0" + struct.pack(">I", len(files[name])) + hashlib.sha256(files[name]).digest())
    assert w.set_digest(files) == want.digest()
    assert w.set_digest({}) == hashlib.sha256().digest()
    assert w.set_digest({"key": b"k"}) == hashlib.sha256().digest()  # not a file
    assert w.set_digest({"key": b"k"}, w.ITEMS) != hashlib.sha256().digest()


def test_keyed_is_hmac_sha256():
    # RFC 4231 test case 2
    assert w.keyed(b"Jefe", b"what do ya want for nothing?") == h(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    a, b = w.fresh_key(), w.fresh_key()
    assert len(a) == w.KEY_LEN and a != b


def test_split_der():
    certs = [b"\x30\x03\x02\x01\x01", b"\x30\x00", b"\x30\x81\x80" + b"\x05\x00" * 64]
    assert w.split_der(b"".join(certs)) == certs
    assert w.split_der(b"") == []


def test_render_and_state_of_a_store():
    key, spki = vector("keys_rsa2048_pkcs1.der"), vector("keys_rsa2048_spki.der")
    c = Credentials()
    assert w.state_of(c) == "empty" and w.render(c) == []
    c.generation = 3
    assert w.state_of(c) == "config"
    c.config = {"host": "h", "port": 1}
    c.trust = [b"\x30\x00", b"\x30\x01\x05"]
    c.boot_user, c.boot_password = "u", "p\u00e9"
    assert w.state_of(c) == "bootstrap"
    c.pending = Pending("enroll", b"\x30\x02\x05\x00", key)
    assert w.state_of(c) == "pending"
    assert w.render(c) == [("config", b"host=s:h\nport=i:1\n"), ("trust", b"\x30\x00\x30\x01\x05"),
                           ("boot_user", b"u"), ("boot_password", b"p\xc3\xa9"),
                           ("pending", b"\x30\x02\x05\x00")]
    c.pending = None
    c.key_der, c.chain = key, [b"\x30\x00"]
    assert w.state_of(c) == "enrolled"
    assert [n for n, _ in w.render(c)] == ["config", "trust", "boot_user", "boot_password", "chain", "key"]
    assert w.render(c)[-1] == ("key", spki)
