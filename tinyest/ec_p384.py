"""P-384 for tinyest.ec: its domain parameters and the builder of comb tables
that are not constants (P-384's, and any other shape the tests try).

tinyest.ec imports this when a key, point or OID first names P-384 (or asks
for a table it does not hold), so a P-256 device never loads it. ``P384`` is
the curve (an ``ec._Curve``: w=4, groups=48, its table built at first use);
``build_table(c)`` returns the comb table of curve c: for t in range(digits //
groups), a row (bytes, ``ec._multiples``) of the odd multiples 1, 3, ...,
2**w - 1 of 2**(w*groups*t)*G. Building P-384's two rows takes one set of odd
multiples, 192 doublings and another set: less than a signature.
"""

from tinyest.ec import _Curve, _multiples

P384 = _Curve(
    "P-384",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
    0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
    0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
    48,
    b"\x2b\x81\x04\x00\x22",  # 1.3.132.0.34
    b"\x2a\x86\x48\xce\x3d\x04\x03\x03",  # ecdsa-with-SHA384 1.2.840.10045.4.3.3
    "sha384", 4, 48, False,
)



def build_table(c):
    """The comb table: for t in range(digits // groups), a row (_multiples)
    of the odd multiples 1, 3, ..., 2**w - 1 of 2**(w*groups*t)*G."""
    p = c.p
    s = c.size
    half = 1 << (c.w - 1)
    T = c.digits // c.groups
    tb = []
    x, y = c.gx, c.gy
    for t in range(T):
        row = _multiples(p, s, x, y, half, 0 if t == T - 1 else c.w * c.groups)
        o = 2 * s * half
        tb.append(bytes(row[:o]))
        if len(row) > o:
            x = int.from_bytes(row[o:o + s], "big")
            y = int.from_bytes(row[o + s:], "big")
    return tuple(tb)
