"""DER writers and date conversion that a device never needs (the host side
of ``tinyest.der``): ``implicit``, ``uint``, ``printable``, ``ia5``,
``utc_time``, ``generalized_time``, ``time`` and ``gmtime``.

Callers import this module by its name (``der.NAME`` does not reach it). The rules are those of ``tinyest.der``
(minimal INTEGERs, RFC 5280 time forms: UTCTime through 2049,
GeneralizedTime from 2050). Errors: DERError. Side channels: none (no
secrets).
"""

from tinyest.der import INTEGER, _PRINTABLE
from tinyest.der_write import GENERALIZED_TIME, IA5_STRING, PRINTABLE_STRING, UTC_TIME, tlv
from tinyest.errors import DERError


def gmtime(t):
    """(year, month, day, hour, minute, second) of seconds since 1970, UTC."""
    days, rem = divmod(t, 86400)
    h, rem = divmod(rem, 3600)
    mi, s = divmod(rem, 60)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (mo <= 2)
    return y, mo, d, h, mi, s


def implicit(n, data, constructed=False):
    """[n] IMPLICIT contents."""
    return tlv((0xA0 if constructed else 0x80) | n, data)


def uint(b):
    """A non-negative INTEGER from big-endian bytes."""
    b = bytes(b)
    i = 0
    while i < len(b) - 1 and b[i] == 0:
        i += 1
    b = b[i:] or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return tlv(INTEGER, b)


def printable(s):
    b = s.encode("utf-8")
    for c in b:
        # letters (c | 0x20 maps the capitals on the small letters), digits, _PRINTABLE
        if not (0x60 < c | 0x20 < 0x7B or 0x2F < c < 0x3A or c in _PRINTABLE):
            raise DERError("%r is not a PrintableString" % s)
    return tlv(PRINTABLE_STRING, b)


def ia5(s):
    b = s.encode("utf-8")
    for c in b:
        if c > 0x7F:
            raise DERError("%r is not an IA5String" % s)
    return tlv(IA5_STRING, b)


def _digits(v, n):
    s = str(v)
    return "0" * (n - len(s)) + s


def utc_time(t):
    y, mo, d, h, mi, s = gmtime(t)
    if not 1950 <= y <= 2049:
        raise DERError("year %d outside UTCTime" % y)
    txt = _digits(y % 100, 2) + "".join([_digits(v, 2) for v in (mo, d, h, mi, s)]) + "Z"
    return tlv(UTC_TIME, txt.encode())


def generalized_time(t):
    y, mo, d, h, mi, s = gmtime(t)
    if not 0 <= y <= 9999:
        raise DERError("year %d outside GeneralizedTime" % y)
    txt = _digits(y, 4) + "".join([_digits(v, 2) for v in (mo, d, h, mi, s)]) + "Z"
    return tlv(GENERALIZED_TIME, txt.encode())


def time(t):
    """RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050."""
    y = gmtime(t)[0]
    if 1950 <= y <= 2049:
        return utc_time(t)
    return generalized_time(t)
