"""Hostile inputs that must be stopped early by a cap, with a clear error.

Each case is (name, expected error class, function). The function runs one
parser over an input that claims or holds far more than any cap: a length
field or chunk size of gigabytes, a million tiny chunks, 10 000 headers,
endless lines, deep nesting. HTTP inputs are streamed by ``Endless``, which
makes the bytes as they are read (never the whole input), and counts what
was read: a parser that stops early reads little. The function returns the
number of bytes read (or 0 for inputs that are in memory anyway).

``CONTROLS`` are legitimate inputs at the caps (a body of exactly
``http.MAX_BODY`` bytes in each framing): they must succeed within the same
memory budget, which shows the budget is not simply too small.

Run as a script (CPython or MicroPython):

    MICROPYPATH=. micropython -X heapsize=2M tests/fuzz/hostile.py [BUDGET [CASE ...]]
    PYTHONPATH=. python3 tests/fuzz/hostile.py

With BUDGET (bytes), the heap is first filled with ballast so that only BUDGET
bytes stay free once the inputs are built and the modules imported; each case
then runs in that space. What one case leaves behind fragments the heap for
the next, so for a measurement run each case in its own process
(tests/host/test_fuzz_host.py does). Prints one line per case:
``CASE <name> <outcome> <bytes read> <message>``, outcome being the class of
the error raised or ``OK``; a MemoryError means the parser tried to allocate
beyond the budget.
"""

import gc
import hashlib
import struct
import sys

from tinyest import client, csr, csr_read, csrattrs, der, der_extra, http, http_auth, keys, pem, pkcs7, serverkeygen, store, x509
from tinyest.errors import DERError, EstError, FormatError, ProtocolError, StoreError

GIB4 = 1 << 32


class Endless:
    """A socket whose stream is ``head``, then ``unit`` ``count`` times, then
    ``tail``; ``count`` may be in the billions: bytes are made when read.
    Like a real socket's recv_into, a read allocates (almost) nothing, so the
    heap a case uses is the parser's own."""

    def __init__(self, head, unit=b"", count=0, tail=b"", step=4096):
        self.head = memoryview(head)
        self.tail = memoryview(tail)
        self.ulen = len(unit)
        self.step = step
        # unit repeated past step + len(unit): any read of the middle is one slice
        self.pattern = memoryview(unit * (step // len(unit) + 2)) if unit else None
        self.body_end = len(head) + len(unit) * count
        self.total = self.body_end + len(tail)
        self.pos = 0

    def recv_into(self, mv):
        n = min(len(mv), self.step, self.total - self.pos)
        if n <= 0:
            return 0
        p = self.pos
        h = len(self.head)
        if p < h:
            k = min(n, h - p)
            mv[0:k] = self.head[p:p + k]
        elif p < self.body_end:
            k = min(n, self.body_end - p)
            off = (p - h) % self.ulen
            mv[0:k] = self.pattern[off:off + k]
        else:
            k = n
            mv[0:k] = self.tail[p - self.body_end:p - self.body_end + k]
        self.pos += k
        return k


_READ = [0]  # bytes the last HTTP case read (MicroPython functions take no attributes)


def _http(sock, max_body=http.MAX_BODY):
    try:
        http.read_response(http.Stream(sock), "GET", max_body)
    finally:
        _READ[0] = sock.pos
    return sock.pos

OK = b"HTTP/1.1 200 OK\r\n"


def _nested_definite(levels, inner=b"\x05\x00"):
    # SEQUENCE { SEQUENCE { ... NULL } } built in linear time
    heads = []
    n = len(inner)
    for _ in range(levels):
        k = 0 if n < 0x80 else 1 if n < 256 else 2 if n < 65536 else 3
        h = bytes((0x30, 0x80 | k if k else n)) + (n.to_bytes(k, "big") if k else b"")
        heads.append(h)
        n += len(h)
    heads.reverse()
    return b"".join(heads) + inner


def _store_load(data):
    class Fs:
        def open(self, path, mode):
            import io
            if path != "/s/cred.a":
                raise OSError(2)
            return io.BytesIO(data)

        def stat(self, path):
            if path == "/s/cred.a":
                return (0x8000, 0, 0, 0, 0, 0, len(data), 0, 0, 0)
            if path == "/s":
                return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            raise OSError(2)

    store.Store("/s", Fs()).load()
    return 0


def _der_all(data):
    # every DER entry point, each must refuse; the first error is raised
    first = None
    for fn in (lambda d: _walk(der.Reader(d)), lambda d: _walk(der.Reader(d, ber=True)), x509.Certificate,
               pkcs7.certificates, csr_read.Csr, keys.load_private, keys.parse_spki, csrattrs.CsrAttrs):
        try:
            fn(data)
        except EstError as e:
            first = first or e
        else:
            raise AssertionError("accepted by %r" % fn)
    raise first


def _walk(r):
    while not r.empty():
        tag = r.peek_tag()
        if tag & 0x20:
            _walk(r.enter(tag))
        else:
            r.skip()


def build_inputs():
    """The in-memory hostile inputs (made before any memory budget is set)."""
    san = der.seq(*[der.tlv(0x82, b"a%d.example" % i) for i in range(65)])
    tbs = der.seq(der.explicit(0, der.integer(2)), der.integer(1), der.seq(der.oid("1.2.840.10045.4.3.2")),
                  der.seq(), der.seq(der_extra.utc_time(0), der_extra.utc_time(1)), der.seq(),
                  der.seq(der.seq(der.oid("1.3.101.112")), der.bit_string(bytes(32))),
                  der.explicit(3, der.seq(der.seq(der.oid("2.5.29.17"), der.octet_string(san)))))
    cert = der.seq(tbs, der.seq(der.oid("1.2.840.10045.4.3.2")), der.bit_string(b"\x00"))
    p7_items = der.tlv(0xA0, *([b"\x30\x00"] * 65))
    p7 = der.seq(der.oid("1.2.840.113549.1.7.2"), der.explicit(0, der.seq(
        der.integer(1), der.tlv(der.SET), der.seq(der.oid("1.2.840.113549.1.7.1")), p7_items, der.tlv(der.SET))))
    hdr = struct.pack(">4sHHII", b"tEST", 1, 0, 1, 0xFFFFFFFF)
    return {
        "der_length_4g": b"\x30\x84\xff\xff\xff\xff" + bytes(16),
        "der_length_5_octets": b"\x30\x85\x01\x00\x00\x00\x00" + bytes(16),
        "der_nested_1000_definite": _nested_definite(1000),
        "ber_nested_10000_indefinite": b"\x30\x80" * 10000 + b"\x00\x00" * 10000,
        "x509_65_san": cert,
        "pkcs7_65_certificates": p7,
        "csrattrs_10000_oids": der.seq(*([der.oid("1.2.3")] * 10000)),
        "pem_1000_blocks": b"-----BEGIN A-----\nAAAA\n-----END A-----\n" * 1000,
        "pem_unterminated_100k": b"-----BEGIN " + b"A" * 100000,
        "multipart_10000_parts": b"--b\r\n\r\nx\r\n" * 10000 + b"--b--\r\n",
        "www_authenticate_10000_challenges": "Basic, " * 10000,
        "www_authenticate_17_challenges": "Basic realm=x, " * 17,
        "store_length_4g": hdr + bytes(64),
        "store_record_length_64k": b"",  # filled below (needs a valid hash)
    }


def _store_record_64k():
    body = b"\x02\xff\xff" + b"b" * 16
    hdr = struct.pack(">4sHHII", b"tEST", 1, 0, 1, len(body))
    return hdr + body + hashlib.sha256(hdr + body).digest()


def cases(inp):
    inp["store_record_length_64k"] = _store_record_64k()
    P, D, F, S = ProtocolError, DERError, FormatError, StoreError
    return [
        ("http_content_length_4g", P, lambda: _http(Endless(OK + b"Content-Length: 4294967296\r\n\r\n", b"A", GIB4))),
        ("http_content_length_10_digits", P,
         lambda: _http(Endless(OK + b"Content-Length: 9999999999\r\n\r\n", b"A", GIB4))),
        ("http_content_length_11_digits", P,
         lambda: _http(Endless(OK + b"Content-Length: 99999999999\r\n\r\n", b"A", GIB4))),
        ("http_chunk_size_4g", P,
         lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\nffffffff\r\n", b"A", GIB4))),
        ("http_chunk_size_9_digits", P,
         lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\n100000000\r\n", b"A", GIB4))),
        ("http_million_tiny_chunks", P,
         lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\n", b"1\r\nA\r\n", 1000000, b"0\r\n\r\n"))),
        ("http_10000_headers", P, lambda: _http(Endless(OK, b"X-A: b\r\n", 10000, b"\r\n"))),
        ("http_endless_header_line", P, lambda: _http(Endless(OK + b"X-A: ", b"a", GIB4))),
        ("http_endless_status_line", P, lambda: _http(Endless(b"HTTP/1.1 200 ", b"a", GIB4))),
        ("http_endless_obs_fold", P, lambda: _http(Endless(OK + b"X-A: b\r\n", b" c\r\n", 1000000))),
        ("http_endless_body_to_close", P, lambda: _http(Endless(OK + b"\r\n", b"A", GIB4))),
        ("http_endless_100_continue", P, lambda: _http(Endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n", 1000000))),
        ("http_endless_blank_lines", P, lambda: _http(Endless(b"", b"\r\n", GIB4))),
        ("http_endless_trailers", P,
         lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\n0\r\n", b"T: x\r\n", 1000000))),
        ("http_endless_chunk_extension", P,
         lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\n1;", b"a", GIB4))),
        ("der_length_4g", D, lambda: _der_all(inp["der_length_4g"])),
        ("der_length_5_octets", D, lambda: _der_all(inp["der_length_5_octets"])),
        ("der_nested_1000_definite", EstError, lambda: _der_all(inp["der_nested_1000_definite"])),
        ("ber_nested_10000_indefinite", D, lambda: pkcs7.certificates(inp["ber_nested_10000_indefinite"])),
        ("x509_65_san", F, lambda: x509.Certificate(inp["x509_65_san"])),
        ("pkcs7_65_certificates", F, lambda: pkcs7.certificates(inp["pkcs7_65_certificates"])),
        ("csrattrs_10000_oids", F, lambda: csrattrs.CsrAttrs(inp["csrattrs_10000_oids"])),
        ("pem_1000_blocks", F, lambda: pem.decode_all(inp["pem_1000_blocks"])),
        ("pem_unterminated_100k", F, lambda: pem.decode_all(inp["pem_unterminated_100k"])),
        ("multipart_10000_parts", P,
         lambda: serverkeygen.parse_multipart("multipart/mixed; boundary=b", inp["multipart_10000_parts"])),
        ("www_authenticate_10000_challenges", P,
         lambda: http_auth.parse_challenges([inp["www_authenticate_10000_challenges"]])),
        ("www_authenticate_17_challenges", P,
         lambda: http_auth.parse_challenges([inp["www_authenticate_17_challenges"]])),
        ("store_length_4g", S, lambda: _store_load(inp["store_length_4g"])),
        ("store_record_length_64k", S, lambda: _store_load(inp["store_record_length_64k"])),
    ]


def controls():
    n = http.MAX_BODY
    return [
        ("control_body_length", lambda: _http(Endless(OK + b"Content-Length: %d\r\n\r\n" % n, b"A", n))),
        ("control_body_chunked", lambda: _http(Endless(OK + b"Transfer-Encoding: chunked\r\n\r\n",
                                                       b"400\r\n" + b"A" * 1024 + b"\r\n", n // 1024, b"0\r\n\r\n"))),
        ("control_body_to_close", lambda: _http(Endless(OK + b"\r\n", b"A", n))),
        ("control_64_headers", lambda: _http(Endless(OK, b"X-A: b\r\n", 63, b"Content-Length: 0\r\n\r\n"))),
    ]


def run_case(fn):
    """(outcome, bytes read, message): outcome is an error class name or OK."""
    _READ[0] = 0
    try:
        got = fn()
    except MemoryError:
        return "MemoryError", _READ[0], ""
    except Exception as e:
        return type(e).__name__, _READ[0], str(e)
    return "OK", got, ""


def _ballast(free):
    # Only ``free`` bytes left, in one clean block (tests/ballast.py).
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    sys.path.append(here + "/..")
    from ballast import fill

    return fill(free)


def main(argv):
    inp = build_inputs()
    todo = cases(inp) + [(n, None, f) for n, f in controls()]
    if len(argv) > 2:
        todo = [t for t in todo if t[0] in argv[2:]]
    keep = None
    if len(argv) > 1:
        for _, _, fn in todo:  # modules imported lazily by a parser load now, not in the budget
            run_case(fn)
        keep = _ballast(int(argv[1]))
        print("FREE %d" % gc.mem_free())
    for name, _, fn in todo:
        gc.collect()
        outcome, read, msg = run_case(fn)
        print("CASE %s %s %d %s" % (name, outcome, read, msg))
    return keep


if __name__ == "__main__":
    main(sys.argv)
