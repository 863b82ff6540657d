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
