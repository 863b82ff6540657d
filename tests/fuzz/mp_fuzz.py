"""A plain mutation fuzzer that runs under MicroPython itself (not part of CI).

    cd tests/core && MICROPYPATH=../..:. \
        micropython -X heapsize=4M ../fuzz/mp_fuzz.py TARGET|all ROUNDS [SEED] [OUTDIR]

MicroPython has no hypothesis and no atheris; behaviour that differs from
CPython (memoryview, str, int parsing, exceptions) is found only by running
there. Each round takes a corpus file of the target, applies 1 to 4 byte edits
(xorshift PRNG from SEED: reproducible) and runs it through
tests/fuzz/harness.py. Inputs that escape with anything but an EstError, or
take more than 2 s, are written to OUTDIR (default /tmp/tinyest-mp-fuzz) and
listed. Prints ``TARGET rounds accepted refused findings``.
"""

import os
import sys
import time

sys.path.append(__file__.rsplit("/", 1)[0] if "/" in __file__ else ".")

import harness  # noqa: E402

_state = [0x2545F491]


def _rand(n):
    x = _state[0]
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _state[0] = x
    return x % n if n else 0


_VALUES = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x84, 0xFF, 0x30, 0xA0, 0x0A, 0x0D, 0x20, 0x3D, 0x22, 0x5C, 0x2C)


def mutate(data):
    b = bytearray(data)
    for _ in range(1 + _rand(4)):
        n = len(b)
        op = _rand(6)
        i = _rand(n) if n else 0
        if op == 0 and n:
            b[i] ^= 1 << _rand(8)
        elif op == 1 and n:
            b[i] = _VALUES[_rand(len(_VALUES))]
        elif op == 2:
            b = b[:i] + bytes([_rand(256)]) + b[i:]
        elif op == 3 and n:
            b = b[:i] + b[i + 1 + _rand(8):]
        elif op == 4:
            b = b[:i]
        elif n:
            j = _rand(n)
            b = b[:j] + b[i:i + 1 + _rand(16)] + b[j:]
    return bytes(b)


def _ms():
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.monotonic() * 1000)


def fuzz(target, rounds, outdir):
    d = __file__.rsplit("/", 1)[0] + "/corpus/" + target
    seeds = []
    for name in sorted(os.listdir(d)):
        if name.startswith("crash-"):
            continue  # known findings: tests/core/test_fuzz_corpus.py covers them
        with open(d + "/" + name, "rb") as f:
            seeds.append(f.read())
    ok = refused = 0
    found = []
    for k in range(rounds):
        data = mutate(seeds[_rand(len(seeds))])
        t0 = _ms()
        try:
            if harness.run(target, data) == "ok":
                ok += 1
            else:
                refused += 1
            err = None
        except Exception as e:
            err = "%s: %s" % (type(e).__name__, e)
        dt = _ms() - t0
        if err is None and dt > 2000:
            err = "took %d ms" % dt
        if err is not None:
            name = "%s/%s-%d.bin" % (outdir, target, k)
            with open(name, "wb") as f:
                f.write(data)
            found.append((name, err))
    print("%s %d %d %d %d" % (target, rounds, ok, refused, len(found)))
    for name, err in found:
        print("  FINDING %s %s" % (name, err))


def main(argv):
    target, rounds = argv[1], int(argv[2])
    if len(argv) > 3:
        _state[0] = int(argv[3]) or 1
    outdir = argv[4] if len(argv) > 4 else "/tmp/tinyest-mp-fuzz"
    try:
        os.mkdir(outdir)
    except OSError:
        pass
    targets = [t for t, _ in harness.TARGETS] if target == "all" else [target]
    for t in targets:
        fuzz(t, rounds, outdir)


main(sys.argv)
