"""P-256's point loop in ARM Thumb assembly (MicroPython's inline assembler),
written for the Cortex-M0+ of the RP2040 (Thumb-1 instructions, which every
Cortex-M runs): ``ladder`` does what ``tinyest.ec._ladder`` does, for P-256,
about six times faster there.

tinyest.ec imports it at its first P-256 operation and keeps its own loop
when the import fails: on CPython (no ``micropython``), on a port without the
Thumb assembler (SyntaxError: x86, x64, Xtensa) or from a .mpy built for
another architecture (ValueError). port_micropython/build.py compiles it only
with ``--march armv6m`` (or another ARM); a board with a .py package compiles it
at import.

Field elements are 16 limbs of 16 bits, little-endian, in Montgomery form
(x * 2**256 mod p), in 32-byte slots of one bytearray, the state. ``run``
executes a program over it: 4-byte instructions (op, d, a, b) naming slots.
  MUL  d = a * b / 2**256 mod p: the product by 16 x 16-bit multiplications
       into 32-bit registers (the M0+ has no 32 x 32 -> 64), then Montgomery's
       reduction, which for p = 2**256 - 2**224 + 2**192 + 2**96 - 1
       (-1/p = 1 mod 2**16) adds each quotient limb at 4 places, no products
  ADD  d = a + b mod p        SUB  d = a - b mod p
  LOAD d = the 32 big-endian bytes at row + off // 2 (+ 32 when a = 1)
  SEL  d = a, or b when off is odd
and returns 1 when the last result is not zero (0 ends a program). The
reductions subtract or add p under a mask, not a branch. Every operation on
the field runs the same instructions whatever the values; the digit tables'
index is secret, as in tinyest.ec (see there).

Emulated RP2040 at 125 MHz (bench/bench_rp2.py prints the figures): a
multiplication mod p 4.7 k cycles with its call from Python (38 k with Python's
integers), a doubling (8 multiplications, 13 additions and subtractions, one
call) 36 k against 218 k, a mixed addition (two calls) 56 k against 328 k;
signing and verification as a whole 3.5-3.8x faster. The state is 736 bytes,
allocated per ladder; the code 2.2 KiB of .mpy.

Tested on the emulated RP2040 (tests/rp2): every operation against Python's
integers, the ladder against tinyest.ec's own on random and exceptional
scalars, and the known answers of signing and verification through it.
"""
try:
    import micropython  # noqa: F401 (its compiler reads the decorators below)
except ImportError:
    raise ImportError("tinyest.ec_thumb runs on MicroPython only")

from tinyest import ec


# run(state, program, row, off). The state's bytes: 0 the save area (row, off,
# the program's position, the last result's address), 32 T (the product, 32
# limbs), 96 M (48 limbs: 16 zeros, the 16 quotient limbs of the reduction, 16
# zeros, so that each column reads its four quotient limbs without a test), 192
# p, 224 2**512 mod p, then the slots (slot s at 32 * s). Thumb-1 offsets reach
# 124 bytes for words, 62 for halfwords, 31 for bytes; r0 holds the state
# except inside the product, r1 the program between operations.
@micropython.asm_thumb
def run(r0, r1, r2, r3):
    str(r2, [r0, 0])
    str(r3, [r0, 4])
    label(NEXT)
    ldrb(r3, [r1, 0])
    str(r1, [r0, 8])
    cmp(r3, 1)
    bne(NOT_MUL)
    b(MUL)
    label(NOT_MUL)
    cmp(r3, 2)
    bne(NOT_ADD)
    b(ADD)
    label(NOT_ADD)
    cmp(r3, 3)
    bne(NOT_SUB)
    b(SUB)
    label(NOT_SUB)
    cmp(r3, 4)
    bne(NOT_LOAD)
    b(LOAD)
    label(NOT_LOAD)
    cmp(r3, 5)
    bne(NOT_SEL)
    b(SEL)
    label(NOT_SEL)
    b(END)

    # ---------------------------------------------------------- MUL d, a, b
    label(MUL)
    ldrb(r2, [r1, 1])
    lsl(r2, r2, 5)
    add(r2, r2, r0)
    str(r2, [r0, 12])      # dst
    ldrb(r3, [r1, 2])
    lsl(r3, r3, 5)
    add(r3, r3, r0)        # a
    ldrb(r4, [r1, 3])
    lsl(r4, r4, 5)
    add(r4, r4, r0)        # b
    # T = 0
    mov(r5, r0)
    add(r5, 32)
    mov(r6, 0)
    mov(r7, 16)
    label(ZT)
    str(r6, [r5, 0])
    add(r5, 4)
    sub(r7, 1)
    bne(ZT)
    sub(r5, 64)            # T
    push({r0})
    mov(r0, 16)            # a's limbs to go
    # T[i + j] += a[i] * b[j] with the carry, operand by operand: r3 a[i], r4 b,
    # r5 T + 2i, r6 a[i], r7 the carry; a[i] * b[j] + T + carry < 2**32. The 16
    # steps over b written out (each: ldrh, mul, add, ldrh, add, strh, lsr).
    label(OUTER)
    push({r4, r5})
    ldrh(r6, [r3, 0])
    mov(r7, 0)
    ldrh(r1, [r4, 0])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 0])
    add(r1, r1, r2)
    strh(r1, [r5, 0])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 2])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 2])
    add(r1, r1, r2)
    strh(r1, [r5, 2])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 4])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 4])
    add(r1, r1, r2)
    strh(r1, [r5, 4])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 6])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 6])
    add(r1, r1, r2)
    strh(r1, [r5, 6])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 8])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 8])
    add(r1, r1, r2)
    strh(r1, [r5, 8])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 10])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 10])
    add(r1, r1, r2)
    strh(r1, [r5, 10])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 12])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 12])
    add(r1, r1, r2)
    strh(r1, [r5, 12])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 14])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 14])
    add(r1, r1, r2)
    strh(r1, [r5, 14])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 16])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 16])
    add(r1, r1, r2)
    strh(r1, [r5, 16])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 18])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 18])
    add(r1, r1, r2)
    strh(r1, [r5, 18])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 20])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 20])
    add(r1, r1, r2)
    strh(r1, [r5, 20])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 22])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 22])
    add(r1, r1, r2)
    strh(r1, [r5, 22])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 24])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 24])
    add(r1, r1, r2)
    strh(r1, [r5, 24])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 26])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 26])
    add(r1, r1, r2)
    strh(r1, [r5, 26])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 28])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 28])
    add(r1, r1, r2)
    strh(r1, [r5, 28])
    lsr(r7, r1, 16)
    ldrh(r1, [r4, 30])
    mul(r1, r6)
    add(r1, r1, r7)
    ldrh(r2, [r5, 30])
    add(r1, r1, r2)
    strh(r1, [r5, 30])
    lsr(r7, r1, 16)
    strh(r7, [r5, 32])
    pop({r4, r5})
    add(r5, 2)
    add(r3, 2)
    sub(r0, 1)
    beq(PDONE)
    b(OUTER)
    label(PDONE)
    pop({r0})
    # Montgomery reduction (p = 2**256 - 2**224 + 2**192 + 2**96 - 1, -1/p = 1 mod 2**16):
    # quotient limb m_k is column k's low limb, and m_k * p adds m_k at limbs k + 6,
    # k + 12, k + 16 and takes it at k + 14. Column k = T[k] + carry + M[16 + k - 6]
    # + M[16 + k - 12] - M[16 + k - 14] + M[16 + k - 16] (zeros outside m_0..m_15);
    # its low limb is m_k (k < 16, into M) or the result's limb k - 16; the carry is
    # signed. The result + carry * 2**256 is below 2p: FIX takes p off.
    mov(r1, r0)
    add(r1, 32)            # T[k]
    mov(r2, r0)
    add(r2, 96)            # M[k]
    mov(r3, 0)             # carry (signed)
    mov(r6, 16)
    label(RED1)
    ldrh(r4, [r1, 0])
    add(r4, r4, r3)
    ldrh(r5, [r2, 20])
    add(r4, r4, r5)
    ldrh(r5, [r2, 8])
    add(r4, r4, r5)
    ldrh(r5, [r2, 4])
    sub(r4, r4, r5)
    ldrh(r5, [r2, 0])
    add(r4, r4, r5)
    strh(r4, [r2, 32])
    asr(r3, r4, 16)
    add(r1, 2)
    add(r2, 2)
    sub(r6, 1)
    bne(RED1)
    ldr(r7, [r0, 12])      # dst
    mov(r6, 16)
    label(RED2)
    ldrh(r4, [r1, 0])
    add(r4, r4, r3)
    ldrh(r5, [r2, 20])
    add(r4, r4, r5)
    ldrh(r5, [r2, 8])
    add(r4, r4, r5)
    ldrh(r5, [r2, 4])
    sub(r4, r4, r5)
    ldrh(r5, [r2, 0])
    add(r4, r4, r5)
    strh(r4, [r7, 0])
    asr(r3, r4, 16)
    add(r1, 2)
    add(r2, 2)
    add(r7, 2)
    sub(r6, 1)
    bne(RED2)
    b(FIX)

    # ---------------------------------------------------------- ADD d, a, b
    label(ADD)
    ldrb(r7, [r1, 1])
    lsl(r7, r7, 5)
    add(r7, r7, r0)
    str(r7, [r0, 12])
    ldrb(r2, [r1, 2])
    lsl(r2, r2, 5)
    add(r2, r2, r0)
    ldrb(r3, [r1, 3])
    lsl(r3, r3, 5)
    add(r3, r3, r0)
    ldr(r4, [r2, 0])
    ldr(r5, [r3, 0])
    add(r4, r4, r5)
    str(r4, [r7, 0])
    ldr(r4, [r2, 4])
    ldr(r5, [r3, 4])
    adc(r4, r5)
    str(r4, [r7, 4])
    ldr(r4, [r2, 8])
    ldr(r5, [r3, 8])
    adc(r4, r5)
    str(r4, [r7, 8])
    ldr(r4, [r2, 12])
    ldr(r5, [r3, 12])
    adc(r4, r5)
    str(r4, [r7, 12])
    ldr(r4, [r2, 16])
    ldr(r5, [r3, 16])
    adc(r4, r5)
    str(r4, [r7, 16])
    ldr(r4, [r2, 20])
    ldr(r5, [r3, 20])
    adc(r4, r5)
    str(r4, [r7, 20])
    ldr(r4, [r2, 24])
    ldr(r5, [r3, 24])
    adc(r4, r5)
    str(r4, [r7, 24])
    ldr(r4, [r2, 28])
    ldr(r5, [r3, 28])
    adc(r4, r5)
    str(r4, [r7, 28])
    mov(r3, 0)
    adc(r3, r3)            # the carry out
    # fall through to FIX

    # ---------------------------------------------------------- FIX
    # d (at [r0, 12], also in r7 once reset) + r3 * 2**256 < 2p -> mod p
    label(FIX)
    ldr(r7, [r0, 12])
    mov(r1, r0)
    add(r1, 192)           # P
    mov(r2, r0)
    add(r2, 32)            # scratch: T
    ldr(r4, [r7, 0])
    ldr(r5, [r1, 0])
    sub(r4, r4, r5)
    str(r4, [r2, 0])
    ldr(r4, [r7, 4])
    ldr(r5, [r1, 4])
    sbc(r4, r5)
    str(r4, [r2, 4])
    ldr(r4, [r7, 8])
    ldr(r5, [r1, 8])
    sbc(r4, r5)
    str(r4, [r2, 8])
    ldr(r4, [r7, 12])
    ldr(r5, [r1, 12])
    sbc(r4, r5)
    str(r4, [r2, 12])
    ldr(r4, [r7, 16])
    ldr(r5, [r1, 16])
    sbc(r4, r5)
    str(r4, [r2, 16])
    ldr(r4, [r7, 20])
    ldr(r5, [r1, 20])
    sbc(r4, r5)
    str(r4, [r2, 20])
    ldr(r4, [r7, 24])
    ldr(r5, [r1, 24])
    sbc(r4, r5)
    str(r4, [r2, 24])
    ldr(r4, [r7, 28])
    ldr(r5, [r1, 28])
    sbc(r4, r5)
    str(r4, [r2, 28])
    mov(r5, 0)
    adc(r5, r5)            # 1: no borrow
    orr(r5, r3)            # subtract p when no borrow or a carry out
    neg(r5, r5)            # mask
    mov(r6, 8)
    label(SELW)
    ldr(r3, [r7, 0])
    ldr(r4, [r2, 0])
    eor(r4, r3)
    and_(r4, r5)
    eor(r4, r3)
    str(r4, [r7, 0])
    add(r7, 4)
    add(r2, 4)
    sub(r6, 1)
    bne(SELW)
    b(STEP)

    # ---------------------------------------------------------- SUB d, a, b
    label(SUB)
    ldrb(r7, [r1, 1])
    lsl(r7, r7, 5)
    add(r7, r7, r0)
    str(r7, [r0, 12])
    ldrb(r2, [r1, 2])
    lsl(r2, r2, 5)
    add(r2, r2, r0)
    ldrb(r3, [r1, 3])
    lsl(r3, r3, 5)
    add(r3, r3, r0)
    ldr(r4, [r2, 0])
    ldr(r5, [r3, 0])
    sub(r4, r4, r5)
    str(r4, [r7, 0])
    ldr(r4, [r2, 4])
    ldr(r5, [r3, 4])
    sbc(r4, r5)
    str(r4, [r7, 4])
    ldr(r4, [r2, 8])
    ldr(r5, [r3, 8])
    sbc(r4, r5)
    str(r4, [r7, 8])
    ldr(r4, [r2, 12])
    ldr(r5, [r3, 12])
    sbc(r4, r5)
    str(r4, [r7, 12])
    ldr(r4, [r2, 16])
    ldr(r5, [r3, 16])
    sbc(r4, r5)
    str(r4, [r7, 16])
    ldr(r4, [r2, 20])
    ldr(r5, [r3, 20])
    sbc(r4, r5)
    str(r4, [r7, 20])
    ldr(r4, [r2, 24])
    ldr(r5, [r3, 24])
    sbc(r4, r5)
    str(r4, [r7, 24])
    ldr(r4, [r2, 28])
    ldr(r5, [r3, 28])
    sbc(r4, r5)
    str(r4, [r7, 28])
    mov(r6, 0)
    adc(r6, r6)
    sub(r6, 1)             # mask: all ones after a borrow
    mov(r1, r0)
    add(r1, 192)           # P
    ldr(r4, [r7, 0])
    ldr(r5, [r1, 0])
    and_(r5, r6)
    add(r4, r4, r5)
    str(r4, [r7, 0])
    ldr(r4, [r7, 4])
    ldr(r5, [r1, 4])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 4])
    ldr(r4, [r7, 8])
    ldr(r5, [r1, 8])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 8])
    ldr(r4, [r7, 12])
    ldr(r5, [r1, 12])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 12])
    ldr(r4, [r7, 16])
    ldr(r5, [r1, 16])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 16])
    ldr(r4, [r7, 20])
    ldr(r5, [r1, 20])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 20])
    ldr(r4, [r7, 24])
    ldr(r5, [r1, 24])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 24])
    ldr(r4, [r7, 28])
    ldr(r5, [r1, 28])
    and_(r5, r6)
    adc(r4, r5)
    str(r4, [r7, 28])
    b(STEP)

    # ---------------------------------------------------------- LOAD d, half
    # d = the 32 big-endian bytes at row + off // 2 (+ 32 when half is 1)
    label(LOAD)
    ldrb(r7, [r1, 1])
    lsl(r7, r7, 5)
    add(r7, r7, r0)
    str(r7, [r0, 12])
    ldrb(r2, [r1, 2])
    lsl(r2, r2, 5)         # 0 or 32
    ldr(r3, [r0, 0])
    add(r2, r2, r3)
    ldr(r3, [r0, 4])
    lsr(r3, r3, 1)
    add(r2, r2, r3)        # the first byte
    add(r2, 31)            # the last
    mov(r6, 32)
    label(LB)
    ldrb(r4, [r2, 0])
    strb(r4, [r7, 0])
    sub(r2, 1)
    add(r7, 1)
    sub(r6, 1)
    bne(LB)
    b(STEP)

    # ---------------------------------------------------------- SEL d, a, b
    # d = a, or b when off is odd
    label(SEL)
    ldrb(r7, [r1, 1])
    lsl(r7, r7, 5)
    add(r7, r7, r0)
    str(r7, [r0, 12])
    ldrb(r2, [r1, 2])
    lsl(r2, r2, 5)
    add(r2, r2, r0)
    ldrb(r3, [r1, 3])
    lsl(r3, r3, 5)
    add(r3, r3, r0)
    ldr(r5, [r0, 4])
    mov(r4, 1)
    and_(r5, r4)
    neg(r5, r5)
    mov(r6, 8)
    label(SW)
    ldr(r4, [r3, 0])
    ldr(r1, [r2, 0])
    eor(r4, r1)
    and_(r4, r5)
    eor(r4, r1)
    str(r4, [r7, 0])
    add(r7, 4)
    add(r2, 4)
    add(r3, 4)
    sub(r6, 1)
    bne(SW)

    label(STEP)
    ldr(r1, [r0, 8])
    add(r1, 4)
    b(NEXT)

    # ---------------------------------------------------------- END
    # r0 = 1 when the last result is not zero
    label(END)
    ldr(r7, [r0, 12])
    ldr(r0, [r7, 0])
    mov(r6, 7)
    label(OR)
    add(r7, 4)
    ldr(r1, [r7, 0])
    orr(r0, r1)
    sub(r6, 1)
    bne(OR)
    neg(r1, r0)
    orr(r0, r1)
    lsr(r0, r0, 31)


# Slots (32 bytes each). 0-7 belong to run: its save area, T (the product, 2
# slots), M (the quotient limbs between zeros, 3), p, 2**512 mod p.
_X, _Y, _Z = 8, 9, 10  # the point, Jacobian, Montgomery form
_ZERO = 21
_ONE = 22  # 1, not in Montgomery form: a * ONE leaves it
_R2 = 7
_MUL, _ADD, _SUB, _LOAD, _SEL = 1, 2, 3, 4, 5


def _prog(*ops):
    out = bytearray()
    for op in ops:
        out += bytes(op)
    return bytes(out + b"\0\0\0\0")


# dbl-2001-b (a = -3), as tinyest.ec._dbl: delta 13, gamma 14, beta 15, alpha 17
_DBL = _prog(
    (_MUL, 13, _Z, _Z), (_MUL, 14, _Y, _Y), (_MUL, 15, _X, 14),
    (_SUB, 16, _X, 13), (_ADD, 17, _X, 13), (_MUL, 16, 16, 17), (_ADD, 17, 16, 16), (_ADD, 17, 17, 16),
    (_MUL, 18, _Y, _Z), (_ADD, _Z, 18, 18),
    (_MUL, 16, 17, 17), (_ADD, 15, 15, 15), (_ADD, 15, 15, 15), (_ADD, 18, 15, 15), (_SUB, _X, 16, 18),
    (_SUB, 15, 15, _X), (_MUL, 15, 17, 15), (_MUL, 14, 14, 14), (_ADD, 14, 14, 14), (_ADD, 14, 14, 14),
    (_ADD, 14, 14, 14), (_SUB, _Y, 15, 14),
)
# mixed addition of the table point at row + o (negated for an odd off), as
# tinyest.ec._madd; first half: x2 11, y2 12, Z**2 14, h 15 (returned)
_ADD1 = _prog(
    (_LOAD, 11, 0, 0), (_LOAD, 12, 1, 0), (_MUL, 11, 11, _R2), (_MUL, 12, 12, _R2),
    (_SUB, 13, _ZERO, 12), (_SEL, 12, 12, 13),
    (_MUL, 14, _Z, _Z), (_MUL, 15, 11, 14), (_SUB, 15, 15, _X),
)
# second half: r 16, hh 17, hhh 18, v 19
_ADD2 = _prog(
    (_MUL, 16, 12, 14), (_MUL, 16, 16, _Z), (_SUB, 16, 16, _Y),
    (_MUL, _Z, _Z, 15), (_MUL, 17, 15, 15), (_MUL, 18, 15, 17), (_MUL, 19, _X, 17),
    (_MUL, 20, 16, 16), (_SUB, 20, 20, 18), (_SUB, 20, 20, 19), (_SUB, _X, 20, 19),
    (_SUB, 19, 19, _X), (_MUL, 19, 16, 19), (_MUL, 17, _Y, 18), (_SUB, _Y, 19, 17),
)
_IN = _prog((_MUL, _X, _X, _R2), (_MUL, _Y, _Y, _R2), (_MUL, _Z, _Z, _R2))
_OUT = _prog((_MUL, _X, _X, _ONE), (_MUL, _Y, _Y, _ONE), (_MUL, _Z, _Z, _ONE))


# p and 2**512 mod p (the factor into Montgomery form) as the state holds them: once
_PR2 = ec._P256.p.to_bytes(32, "little") + pow(2, 512, ec._P256.p).to_bytes(32, "little")


def state():
    """A new state: p, 2**512 mod p and ONE in place, the rest zero."""
    st = bytearray(32 * 23)
    st[192:256] = _PR2
    st[32 * _ONE] = 1
    return st


def _get(st):
    run(st, _OUT, 0, 0)
    return [int.from_bytes(st[o:o + 32], "little") for o in (256, 288, 320)]


def _put(st, X, Y, Z):
    for o, v in ((256, X), (288, Y), (320, Z)):
        st[o:o + 32] = v.to_bytes(32, "little")
    run(st, _IN, 0, 0)


def ladder(c, rows, digs, cols, dbls):
    """tinyest.ec._ladder for P-256 (c): the same loop, its field work in run."""
    p = c.p
    st = state()
    jobs = list(zip(rows, digs))
    r = run
    inf = True
    for j in range(cols - 1, -1, -1):
        if not inf:
            for _ in range(dbls):
                r(st, _DBL, 0, 0)
        for row, dig in jobs:
            d = dig[j]
            if d:
                o = (d - 1) // 2 * 64
                neg = 1 - (d & 1)
                if inf or not r(st, _ADD1, row, 2 * o + neg):
                    # infinity, or h = 0 (doubling, or the negation): Python's integers
                    x2 = int.from_bytes(row[o:o + 32], "big")
                    y2 = int.from_bytes(row[o + 32:o + 64], "big")
                    X, Y, Z = (1, 1, 0) if inf else _get(st)
                    X, Y, Z = ec._madd(p, X, Y, Z, x2, (p - y2) if neg else y2)
                    _put(st, X, Y, Z)
                    inf = not Z
                else:
                    r(st, _ADD2, 0, 0)
    return (1, 1, 0) if inf else tuple(_get(st))
