"""HTTP-date parsing (RFC 7231 7.1.1.1) and Retry-After (7.1.3): the
``parse_http_date`` and ``retry_after`` of ``tinyest.http``, which serves
them from here.

Imported on the first date read. ``parse_http_date`` reads the three forms: IMF-fixdate
(``Sun, 06 Nov 1994 08:49:37 GMT``), RFC 850 (``Sunday, 06-Nov-94 08:49:37
GMT``, two-digit years from 1970) and asctime (``Sun Nov  6 08:49:37 1994``).
Input longer than 64 characters, fields out of range (a four-digit year from
1970, day 1-31, 23:59:60 at most) or any other form give None.
"""


def parse_http_date(s):
    """Seconds since 1970 of an HTTP-date (IMF-fixdate, RFC 850 or asctime
    form, RFC 7231 7.1.1.1), or None."""
    if s is None or len(s) > 64:
        return None
    p = s.replace(",", " ").split()
    n = len(p)
    if n == 6 and p[5] == "GMT":  # Sun, 06 Nov 1994 08:49:37 GMT
        d, mon, y, hms = p[1:5]
    elif n == 4 and p[3] == "GMT":  # Sunday, 06-Nov-94 08:49:37 GMT
        hms = p[2]
        p = p[1].split("-")
        if len(p) != 3:
            return None
        d, mon, y = p
        if len(y) == 2:
            y = ("20" if y < "70" else "19") + y
    elif n == 5:  # Sun Nov  6 08:49:37 1994
        mon, d, hms, y = p[1:5]
    else:
        return None
    f = [y, d] + hms.split(":")
    m = "janfebmaraprmayjunjulaugsepoctnovdec".find(mon.lower())
    if len(f) != 5 or "" in f or "".join(f).strip("0123456789"):
        return None
    if len(y) != 4 or len(mon) != 3 or m % 3:
        return None
    y, d, h, mi, sec = [int(x) for x in f]
    if y < 1970 or not 0 < d < 32 or h > 23 or mi > 59 or sec > 60:
        return None
    from tinyest.der import timegm

    return timegm(y, m // 3 + 1, d, h, mi, sec)


def retry_after(value, date=None, now=None, default=60):
    """Seconds to wait from a Retry-After value: delta-seconds, or an HTTP-date
    measured from the response's Date header (else from ``now``). A missing
    or unreadable value gives ``default``; a date in the past gives 0."""
    if value is None:
        return default
    value = value.strip()
    if 0 < len(value) < 11 and not value.strip("0123456789"):  # delta-seconds
        return int(value)
    t = parse_http_date(value)
    if t is None:
        return default
    ref = parse_http_date(date)
    if ref is None:
        if now is None:
            from tinyest import runtime

            now = runtime.now()
        ref = now
    return max(t - ref, 0)
