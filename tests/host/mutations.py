"""The byte-level mutator of the host fuzz tests (hypothesis): ``mutate(data,
edits)`` applies ``edits``, a list of (op, position, value) drawn by ``EDITS``:
op 0 sets a byte, 1 deletes 1 to 8 bytes, 2 inserts 1 to 3 copies of a byte,
3 truncates, 4 flips one bit, 5 copies a run of up to 32 bytes elsewhere.
Positions wrap around the current length, so every edit applies."""
from hypothesis import strategies as st

EDITS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6)


def mutate(data, edits):
    b = bytearray(data)
    for op, pos, val in edits:
        pos = pos % (len(b) + 1)
        if op == 0 and b:
            b[pos % len(b)] = val
        elif op == 1 and b:
            del b[pos % len(b):pos % len(b) + 1 + val % 8]
        elif op == 2:
            b[pos:pos] = bytes([val]) * (1 + val % 3)
        elif op == 3:
            del b[pos:]
        elif op == 4 and b:
            b[pos % len(b)] ^= 1 << (val % 8)
        else:
            src = bytes(b[pos:pos + 1 + val % 32])
            b[val % (len(b) + 1):val % (len(b) + 1)] = src
    return bytes(b)
