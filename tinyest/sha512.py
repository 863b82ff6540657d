"""Pure-Python SHA-512 and SHA-384 (FIPS 180-4), for ports whose hashlib lacks them.

``tinyest.hashes`` imports this module only when a SHA-384 or SHA-512 digest is
asked for and ``hashlib`` has no such constructor (MicroPython has neither), so a
P-256 device that hashes with SHA-256 alone never loads it. ``Sha512(data=b"",
split=None)`` and ``Sha384`` offer ``update(data)``, ``digest()`` and ``copy()``;
``digest()`` does not finalize, unlike MicroPython's hashlib objects: callers
must not rely on either.

The pure implementation has two compression functions with the same output:

* ``_compress64`` works on 64-bit words. Every word is a big integer on
  MicroPython, so each operation allocates; it is the one for 32-bit ports,
  where 32-bit halves would be big integers too, and for CPython.
* ``_compress32`` works on 32-bit halves, with every intermediate kept below
  2**36 so that on 64-bit MicroPython ports (small ints up to 2**62) nothing
  is allocated; it is about three times faster there.

``tinyest.hashes._SPLIT`` picks one: the split form on a 64-bit MicroPython,
the 64-bit form elsewhere. About 0.13 ms (split) or 0.4 ms (64-bit words) per
128-byte block on the x86-64 unix port.

Side channels: SHA-2 has no secret-dependent branches or table indices, and
the code adds none, but Python integer operations are not constant-time (the
64-bit form allocates big integers whose size depends on the data).
"""

import struct

from tinyest.hashes import _SPLIT

_M64 = 0xFFFFFFFFFFFFFFFF
_M32 = 0xFFFFFFFF

# FIPS 180-4 4.2.3 round constants, as text: they become integers on first use
# (80 big integers cost about 5 KiB of heap on MicroPython, the text 1.4 KiB).
_K_HEX = (
    "428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc "
    "3956c25bf348b538 59f111f1b605d019 923f82a4af194f9b ab1c5ed5da6d8118 "
    "d807aa98a3030242 12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2 "
    "72be5d74f27b896f 80deb1fe3b1696b1 9bdc06a725c71235 c19bf174cf692694 "
    "e49b69c19ef14ad2 efbe4786384f25e3 0fc19dc68b8cd5b5 240ca1cc77ac9c65 "
    "2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5 "
    "983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4 "
    "c6e00bf33da88fc2 d5a79147930aa725 06ca6351e003826f 142929670a0e6e70 "
    "27b70a8546d22ffc 2e1b21385c26c926 4d2c6dfc5ac42aed 53380d139d95b3df "
    "650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6 92722c851482353b "
    "a2bfe8a14cf10364 a81a664bbc423001 c24b8b70d0f89791 c76c51a30654be30 "
    "d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8 "
    "19a4c116b8d2d0c8 1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8 "
    "391c0cb3c5c95a63 4ed8aa4ae3418acb 5b9cca4f7763e373 682e6ff3d6b2b8a3 "
    "748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72 8cc702081a6439ec "
    "90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b "
    "ca273eceea26619c d186b8c721c0c207 eada7dd6cde0eb1e f57d4f7fee6ed178 "
    "06f067aa72176fba 0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b "
    "28db77f523047d84 32caab7b40c72493 3c9ebe0a15c9bebc 431d67c49c100d4c "
    "4cc5d4becb3e42b6 597f299cfc657e2a 5fcb6fab3ad6faec 6c44198c4a475817 "
)
_K = None


def _constants():
    global _K
    if _K is None:
        _K = tuple([int(h, 16) for h in _K_HEX.split()])
    return _K


_IV512 = (
    0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
    0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
)
_IV384 = (
    0xCBBB9D5DC1059ED8, 0x629A292A367CD507, 0x9159015A3070DD17, 0x152FECD8F70E5939,
    0x67332667FFC00B31, 0x8EB44A8768581511, 0xDB0C2E0D64F98FA7, 0x47B5481DBEFA4FA4,
)

_KSPLIT = None  # _K as 160 32-bit halves, built on first use of _compress32


def _compress64(H, block):
    """One SHA-512 compression on 64-bit words: H is a list of 8 ints, block
    128 bytes; returns the new list."""
    M = _M64
    W = list(struct.unpack(">16Q", block))
    for t in range(16, 80):
        x = W[t - 15]
        y = W[t - 2]
        W.append(
            (W[t - 16] + W[t - 7]
             + (((x >> 1 | x << 63) ^ (x >> 8 | x << 56) ^ (x >> 7)) & M)
             + (((y >> 19 | y << 45) ^ (y >> 61 | y << 3) ^ (y >> 6)) & M)) & M
        )
    a, b, c, d, e, f, g, h = H
    K = _K or _constants()
    for t in range(80):
        t1 = (h + (((e >> 14 | e << 50) ^ (e >> 18 | e << 46) ^ (e >> 41 | e << 23)) & M)
              + (g ^ (e & (f ^ g))) + K[t] + W[t])
        h = g
        g = f
        f = e
        e = (d + t1) & M
        d = c
        c = b
        b = a
        a = (t1 + (((a >> 28 | a << 36) ^ (a >> 34 | a << 30) ^ (a >> 39 | a << 25)) & M)
             + ((a & c) | (d & (a | c)))) & M
    return [
        (H[0] + a) & M, (H[1] + b) & M, (H[2] + c) & M, (H[3] + d) & M,
        (H[4] + e) & M, (H[5] + f) & M, (H[6] + g) & M, (H[7] + h) & M,
    ]


def _compress32(H, block):
    """The same compression on 32-bit halves: H is a list of 16 ints (high,
    low, high, low...). Each rotation masks before shifting left, so no value
    exceeds 2**35."""
    global _KSPLIT
    if _KSPLIT is None:
        ks = []
        for h in _K_HEX.split():
            ks.append(int(h[:8], 16))
            ks.append(int(h[8:], 16))
        _KSPLIT = tuple(ks)
    K = _KSPLIT
    M = _M32
    W = list(struct.unpack(">32I", block))
    for t in range(32, 160, 2):
        xh = W[t - 30]
        xl = W[t - 29]
        yh = W[t - 4]
        yl = W[t - 3]
        # sigma0 = rotr 1 ^ rotr 8 ^ shr 7; sigma1 = rotr 19 ^ rotr 61 ^ shr 6
        lo = (W[t - 31] + W[t - 13]
              + ((xl >> 1 | (xh & 1) << 31) ^ (xl >> 8 | (xh & 0xFF) << 24) ^ (xl >> 7 | (xh & 0x7F) << 25))
              + ((yl >> 19 | (yh & 0x7FFFF) << 13) ^ (yh >> 29 | (yl & 0x1FFFFFFF) << 3)
                 ^ (yl >> 6 | (yh & 0x3F) << 26)))
        W.append(
            (W[t - 32] + W[t - 14]
             + ((xh >> 1 | (xl & 1) << 31) ^ (xh >> 8 | (xl & 0xFF) << 24) ^ (xh >> 7))
             + ((yh >> 19 | (yl & 0x7FFFF) << 13) ^ (yl >> 29 | (yh & 0x1FFFFFFF) << 3) ^ (yh >> 6))
             + (lo >> 32)) & M
        )
        W.append(lo & M)
    ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl = H
    for t in range(0, 160, 2):
        # Sigma1(e) = rotr 14 ^ rotr 18 ^ rotr 41; Ch(e, f, g)
        t1l = (hl + ((el >> 14 | (eh & 0x3FFF) << 18) ^ (el >> 18 | (eh & 0x3FFFF) << 14)
                     ^ (eh >> 9 | (el & 0x1FF) << 23))
               + (gl ^ (el & (fl ^ gl))) + K[t + 1] + W[t + 1])
        t1h = (hh + ((eh >> 14 | (el & 0x3FFF) << 18) ^ (eh >> 18 | (el & 0x3FFFF) << 14)
                     ^ (el >> 9 | (eh & 0x1FF) << 23))
               + (gh ^ (eh & (fh ^ gh))) + K[t] + W[t] + (t1l >> 32))
        t1l &= M
        # Sigma0(a) = rotr 28 ^ rotr 34 ^ rotr 39; Maj(a, b, c)
        t2l = (((al >> 28 | (ah & 0xFFFFFFF) << 4) ^ (ah >> 2 | (al & 3) << 30)
                ^ (ah >> 7 | (al & 0x7F) << 25))
               + ((al & bl) | (cl & (al | bl))))
        t2h = (((ah >> 28 | (al & 0xFFFFFFF) << 4) ^ (al >> 2 | (ah & 3) << 30)
                ^ (al >> 7 | (ah & 0x7F) << 25))
               + ((ah & bh) | (ch & (ah | bh))))
        hh = gh
        hl = gl
        gh = fh
        gl = fl
        fh = eh
        fl = el
        el = dl + t1l
        eh = (dh + t1h + (el >> 32)) & M
        el &= M
        dh = ch
        dl = cl
        ch = bh
        cl = bl
        bh = ah
        bl = al
        al = t1l + t2l
        ah = (t1h + t2h + (al >> 32)) & M
        al &= M
    v = (ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl)
    out = []
    for i in range(0, 16, 2):
        lo = H[i + 1] + v[i + 1]
        out.append((H[i] + v[i] + (lo >> 32)) & M)
        out.append(lo & M)
    return out


class Sha512:
    """Pure-Python SHA-512 (FIPS 180-4 6.4). ``split`` chooses the compression
    function (None: the one suited to this port)."""

    digest_size = 64
    block_size = 128
    _iv = _IV512

    def __init__(self, data=b"", split=None):
        if split is None:
            split = _SPLIT
        self._split = split
        if split:
            h = []
            for v in self._iv:
                h.append(v >> 32)
                h.append(v & _M32)
            self._h = h
            self._f = _compress32
        else:
            self._h = list(self._iv)
            self._f = _compress64
        self._buf = b""
        self._len = 0
        self.update(data)

    def update(self, data):
        mv = memoryview(data)
        n = len(mv)
        self._len += n
        buf = self._buf
        f = self._f
        i = 0
        if buf:
            take = 128 - len(buf)
            if n < take:
                self._buf = buf + bytes(mv)
                return
            self._h = f(self._h, buf + bytes(mv[:take]))
            i = take
        h = self._h
        while i + 128 <= n:
            h = f(h, mv[i:i + 128])
            i += 128
        self._h = h
        self._buf = bytes(mv[i:])

    def copy(self):
        c = type(self)(split=self._split)
        c._h = list(self._h)
        c._buf = self._buf
        c._len = self._len
        return c

    def digest(self):
        n = self._len
        tail = self._buf + b"\x80" + bytes((111 - n) % 128) + (n * 8).to_bytes(16, "big")
        h = self._h
        f = self._f
        for i in range(0, len(tail), 128):
            h = f(h, tail[i:i + 128])
        if self._split:
            out = struct.pack(">16I", *h)
        else:
            out = struct.pack(">8Q", *h)
        return out[:self.digest_size]


class Sha384(Sha512):
    """Pure-Python SHA-384: SHA-512 with other initial values, truncated."""

    digest_size = 48
    _iv = _IV384
