"""Station settings: the station file (TOML or CSV) merged under the command
line, the device list of a batch, and identity templates."""

import csv
import os

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from host_tools.provision_exits import EXIT_INPUT, Fail, UsageError

METHODS = ("password", "otp", "idevid", "station")

DEFAULTS = {
    "label": None, "ta": None, "server": None, "credential": None, "user": None, "password": None,
    "otp_export": None, "otp_user": "{device_id}", "cn": "{device_id}", "dns": None, "station_user": None,
    "station_password": None, "station_cert": None, "station_key": None, "station": None,
    "ledger": None, "mode": "auto", "store": "/est", "force": False, "reboot": False,
    "timeout": 8.0, "frame_timeout": 0.5, "baud": 115200, "attempts": 3, "wait": 120.0,
    "jobs": 1, "curve": "P-256", "quiet": False, "device_id": None,
}
_FLOATS = {"timeout", "frame_timeout", "wait"}
_INTS = {"baud", "attempts", "jobs"}
_BOOLS = {"force", "reboot", "quiet"}


def read_toml(text):
    """The settings of a TOML document; ValueError when it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(str(e))


def read_station(path):
    """Station settings from TOML or CSV (key,value rows)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Fail(EXIT_INPUT, "cannot read station file %s: %s" % (path, e.strerror or e))
    try:
        text = data.decode("utf-8")
    except UnicodeError:
        raise Fail(EXIT_INPUT, "station file %s is not UTF-8" % path)
    if path.lower().endswith(".csv"):
        conf = {}
        for row in csv.reader(text.splitlines()):
            if not row or not row[0].strip() or row[0].strip().startswith("#"):
                continue
            if len(row) != 2:
                raise UsageError("station file %s: rows are key,value" % path)
            conf[row[0].strip()] = row[1].strip()
    else:
        try:
            conf = read_toml(text)
        except ValueError as e:
            raise UsageError("station file %s: %s" % (path, e))
    out = {}
    for k, v in conf.items():
        k = k.replace("-", "_")
        if k not in DEFAULTS:
            raise UsageError("station file %s: unknown setting %r" % (path, k))
        out[k] = _typed(k, v, "station file %s" % path)
    base = os.path.dirname(os.path.abspath(path))
    for k in ("ta", "otp_export", "station_cert", "station_key", "ledger"):
        if isinstance(out.get(k), str) and not os.path.isabs(out[k]):
            out[k] = os.path.join(base, out[k])
    return out


def _typed(k, v, where):
    if not isinstance(v, (str, int, float, bool)):  # a TOML table, array or date
        raise UsageError("%s: %s takes one text, number or true/false" % (where, k))
    try:
        if k in _BOOLS:
            if isinstance(v, bool):
                return v
            if str(v).lower() in ("1", "true", "yes", "on"):
                return True
            if str(v).lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if k in _INTS:
            return int(v)
        if k in _FLOATS:
            return float(v)
        return str(v)
    except (TypeError, ValueError):
        raise UsageError("%s: bad value %r for %s" % (where, v, k))


DEVICE_COLUMNS = ("port", "device_id", "idevid_cert", "idevid_key", "cn", "dns")


def read_devices(path):
    """[(port, device_id, idevid_cert, idevid_key, cn, dns)], None for each cell not
    given (see the module text for the columns)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeError) as e:
        raise Fail(EXIT_INPUT, "cannot read device list %s: %s" % (path, e))
    base = os.path.dirname(os.path.abspath(path))
    out = []
    columns = None
    for row in rows:
        row = [c.strip() for c in row]
        if not any(row) or row[0].startswith("#"):
            continue
        if columns is None and "port" in [c.lower() for c in row]:
            columns = [c.lower() for c in row]
            unknown = [c for c in columns if c not in DEVICE_COLUMNS]
            if unknown or len(set(columns)) != len(columns):
                raise UsageError("device list %s: the header names columns from %s, each once"
                                 % (path, ", ".join(DEVICE_COLUMNS)))
            continue
        if columns is None:
            if len(row) > 5 or len(row) == 3:
                raise UsageError("device list %s: rows are port[,device_id[,idevid_cert,idevid_key[,cn]]]"
                                 % path)
            cells = dict(zip(DEVICE_COLUMNS, row))
        else:
            if len(row) > len(columns):
                raise UsageError("device list %s: a row has more cells than the header" % path)
            cells = dict(zip(columns, row))
        if not cells.get("port"):
            raise UsageError("device list %s: a row without a port" % path)
        files = [cells.get(k) or None for k in ("idevid_cert", "idevid_key")]
        if (files[0] is None) != (files[1] is None):
            raise UsageError("device list %s: idevid_cert and idevid_key go together" % path)
        files = [c if c is None or os.path.isabs(c) else os.path.join(base, c) for c in files]
        for k in ("cn", "dns"):
            if cells.get(k):
                check_template(cells[k], "device list %s: %s" % (path, k))
        out.append((cells["port"], cells.get("device_id") or None, files[0], files[1],
                    cells.get("cn") or None, cells.get("dns") or None))
    if not out:
        raise UsageError("device list %s names no device" % path)
    return out


def fill(template, dev_id):
    """A template with the device id filled in ({device_id}, or {id})."""
    return template.format(device_id=dev_id, id=dev_id)


def check_template(template, what):
    try:
        if not fill(template, "x"):
            raise ValueError
    except (KeyError, IndexError, ValueError):
        raise UsageError("%s: a non-empty text that may use {device_id} only" % what)
