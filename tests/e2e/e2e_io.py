"""What the end-to-end client programs share (each runs under CPython and under
MicroPython): reading their JSON argument, and reporting an error as a result."""

import json


def args(text):
    """The JSON argument; "@FILE" reads it from a file, since the unix micropython
    command aborts on an argument of 256 characters or more."""
    if text.startswith("@"):
        with open(text[1:]) as f:
            text = f.read()
    return json.loads(text)


def error(res, e):
    """Record an error in a result: its class, message, and a RetryLater's seconds
    or an HttpError's status."""
    res["error"] = type(e).__name__
    res["msg"] = str(e)
    if hasattr(e, "seconds"):
        res["seconds"] = e.seconds
    if hasattr(e, "status"):
        res["status"] = e.status
    return res


def read(path):
    """The octets of a file."""
    with open(path, "rb") as f:
        return f.read()


def say(step, **kw):
    """Print one JSON line: ``{"step": step, ...kw}``."""
    kw["step"] = step
    print(json.dumps(kw))


def step_until_issued(dev, store, now, serials, report, tries=6):
    """Step the ``tinyest.device.Device`` ``dev`` on ``store`` from ``now``, 5 s
    apart, at most ``tries`` times, until the store holds a certificate whose
    serial ``serials`` does not list yet (then appended); ``report(state, serial,
    trust, error)`` after each step. The time of the last step."""
    from tinyest import x509

    for _ in range(tries):
        dev.step(now)
        cur = store.load()
        serial = x509.Certificate(cur.chain[0]).serial if cur.enrolled else None
        report(dev.state, serial, cur.trust, None if dev.error is None else str(dev.error))
        if serial is not None and serial not in serials:
            serials.append(serial)
            break
        now += 5
    return now
