"""P-256's Thumb assembly (tinyest/ec_thumb.py) on the RP2040 firmware, the only
place it runs: each field operation against Python's integers, and its point
loop against tinyest.ec's own loop as CPython runs it (the same formulas in the
same order, so the Jacobian results must be equal, not merely the same point):
secret scalars through the comb, the verification's u1*G + u2*Q, and the scalars
that reach the exceptional additions (a point added to itself, or to its
negation), which the loop hands to tinyest.ec._madd.

Elsewhere (CPython, x86/x64/Xtensa MicroPython) the module does not load and
tinyest.ec keeps its loop; tests/core/test_ec.py holds that on every runtime.
"""
import random

import pico
import test_ec  # tests/core: the scalars whose last comb addition doubles

from tinyest import ec

P = ec._P256.p
N = ec._P256.n
R_INV = pow(1 << 256, P - 2, P)

# field elements the reductions must get right: 0, 1, p - 1, 2**255, values
# whose Montgomery form or sum is near p or 2**256
EDGES = [0, 1, 2, P - 1, P - 2, (1 << 255) % P, (1 << 256) - P - 1, (1 << 256) % P, 1 << 224, (1 << 96) - 1]

_OPS = """
from tinyest import ec, ec_thumb as t
st = t.state()
def put(s, x):
    st[32 * s:32 * s + 32] = x.to_bytes(32, "little")
def get(s):
    return int.from_bytes(st[32 * s:32 * s + 32], "little")
def ops(x, y):
    put(8, x)
    put(9, y)
    out = []
    for op in (t._MUL, t._ADD, t._SUB):
        f = t.run(st, bytes((op, 10, 8, 9, 0, 0, 0, 0)), 0, 0)
        out += [get(10), f]
    row = b"--" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    for neg in (0, 1):  # LOAD x and y of the point at byte 2, then SEL y (neg 0) or x (neg 1)
        t.run(st, bytes((t._LOAD, 11, 0, 0, t._LOAD, 12, 1, 0, t._SEL, 13, 12, 11, 0, 0, 0, 0)), row, 4 + neg)
        out += [get(11), get(12), get(13)]
    put(8, x)
    put(9, y)  # in place: d is a, then d is b
    t.run(st, bytes((t._MUL, 8, 8, 9, t._SUB, 9, 8, 9, 0, 0, 0, 0)), 0, 0)
    return out + [get(8), get(9)]
"""


def _ops_want(x, y):
    z = x * y * R_INV % P
    return [z, int(z != 0), (x + y) % P, int((x + y) % P != 0), (x - y) % P, int((x - y) % P != 0),
            x, y, y, x, y, x, z, (z - y) % P]


def _cases():
    rnd = random.Random(7)
    pairs = [(a, b) for a in EDGES for b in EDGES]
    pairs += [(rnd.randrange(P), rnd.randrange(P)) for _ in range(40)]
    comb = [1, 2, N - 1, test_ec.P256_X, rnd.randrange(1, N)] + test_ec._last_addition_doubles(ec._P256)[:2]
    q = ec.from_secret(rnd.randrange(1, N)).public_point()
    qx, qy = int.from_bytes(q[1:33], "big"), int.from_bytes(q[33:], "big")
    G = (ec._P256.gx, ec._P256.gy)
    muladd = [(1, 1) + G, (N - 1, N - 1) + G,  # the two additions meet the same point: doubling
              (5, N - 5) + G,  # ... or its negation: infinity at the end
              (rnd.randrange(N), rnd.randrange(N), qx, qy), (0, rnd.randrange(N), qx, qy)]
    return pairs, comb, muladd


@pico.job("thumb")
def run_thumb(flash):
    pairs, comb, muladd = _cases()
    r = {}
    with pico.Pico(flash) as p:
        p.exec(_OPS)
        r["loop_is_thumb"] = p.eval("ec._loop(ec._P256) is t.ladder and ec._loop(ec._P384) is ec._ladder")
        r["ops"] = [p.value("print(repr(ops(%d, %d)))" % xy) for xy in pairs]
        r["comb"] = [p.value("print(repr(tuple(ec._comb(ec._P256, %d))))" % k) for k in comb]
        r["muladd"] = [p.value("print(repr(tuple(ec._muladd(ec._P256, %d, %d, %d, %d))))" % m) for m in muladd]
    return r


def test_field_operations_match_integers(rp2_jobs):
    r = rp2_jobs.result("thumb")
    pairs, _, _ = _cases()
    assert r["loop_is_thumb"] is True
    for (x, y), got in zip(pairs, r["ops"]):
        assert got == _ops_want(x, y), (hex(x), hex(y))


def test_point_loop_matches_the_python_loop(rp2_jobs):
    r = rp2_jobs.result("thumb")
    _, comb, muladd = _cases()
    c = ec._P256
    assert ec._loop(c) is ec._ladder  # CPython: the reference is tinyest.ec's loop
    for k, got in zip(comb, r["comb"]):
        assert got == tuple(ec._comb(c, k)), hex(k)
    for m, got in zip(muladd, r["muladd"]):
        assert got == tuple(ec._muladd(c, *m)), m
    assert r["muladd"][2][2] == 0  # 5G + (n - 5)G is infinity
