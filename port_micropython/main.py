"""Example device application: an ESP32 or RP2040 that enrolls once and renews forever.

Copy this file and ``config.json`` (see ``config.example.json``) to the board's flash,
with the tinyest package in ``/lib`` (``mip.install``) or frozen into the firmware.
Every boot:

1. read ``config.json``;
2. on the first boot, move the ``bootstrap`` section (one-time credential, CA
   fingerprint or trust anchor file, a factory certificate and key file) into the
   credential store and drop it from the config file;
3. bring up Wi-Fi (``wifi``: ssid, password, timeout);
4. ask the state machine to do what is due (``tinyest.device``): bootstrap /cacerts,
   enroll, renew, refresh /cacerts; the clock comes from the RTC, NTP (``"ntp":
   true``) only when the RTC is not set, or the EST server's Date header;
5. deep-sleep until the next step is due; the board then boots again.

EST over CoAP and DTLS (RFC 9148): ``"scheme": "coaps"`` in the ``est`` section, with
the server's UDP ``port`` and its resource path as ``label`` ("/est"); the bootstrap
section then gives the trust anchor file (``ca``) and the factory identity files
(``cert``, ``key``: DER): EST over CoAP takes no password.

Simulation: the same file runs unchanged under the unix ``micropython`` command with a
folder as its flash (``port_micropython/sim.py``). Without a ``network`` module Wi-Fi
is skipped; without ``machine.deepsleep`` the program prints ``WAKE <time> <seconds>``
and exits, and the simulator boots it again when it chooses. In simulation the clock
is the host clock plus the offset (seconds) written in the file named by
``sim_clock`` (default ``sim_clock``), and setting the clock rewrites that file.

Logging goes through one callback (``log``) that prints ``event detail`` lines; the
library itself never prints. ``on_error`` is called for failures that retrying will
not fix (the device then waits ``hold`` seconds).
"""

import sys
import time

import json

CONFIG = "config.json"
STORE = "est"  # on a board the working directory at boot is "/", so this is /est


def log(event, detail=""):
    print("%s %s" % (event, detail))


def on_error(action, exc):
    log("ALERT", "%s needs attention: %s: %s" % (action, type(exc).__name__, exc))


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    import os

    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(path + ".tmp", path)


def simulated():
    try:
        import machine

        return not hasattr(machine, "deepsleep")
    except ImportError:
        return True


class Clock:
    """Seconds since 1970: the RTC on a board; in simulation the host clock plus the
    offset kept in a file."""

    def __init__(self, cfg):
        self.file = cfg.get("sim_clock", "sim_clock") if simulated() else None

    def _offset(self):
        try:
            with open(self.file) as f:
                return int(f.read().strip() or "0")
        except OSError:
            return 0

    def now(self):
        from tinyest import runtime
        return runtime.now() + (self._offset() if self.file else 0)

    def set(self, t):
        from tinyest import runtime
        if self.file:
            with open(self.file, "w") as f:
                f.write("%d\n" % (t - runtime.now()))
            return
        import machine

        tm = time.gmtime(t - (946684800 if time.gmtime(0)[0] == 2000 else 0))
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))


def wifi(cfg):
    try:
        import network
    except ImportError:
        log("wifi", "no network module: skipped (simulation)")
        return True
    w = cfg.get("wifi") or {}
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    if not sta.isconnected():
        sta.connect(w.get("ssid", ""), w.get("password", ""))
        t0 = time.ticks_ms()
        while not sta.isconnected():
            if time.ticks_diff(time.ticks_ms(), t0) > int(w.get("timeout", 20)) * 1000:
                log("wifi", "not connected")
                return False
            time.sleep_ms(200)
    log("wifi", "connected, address %s" % sta.ifconfig()[0])
    return True


def ntp_hook(cfg, clock):
    if not cfg.get("ntp") or simulated():
        return None

    def ntp():
        import ntptime

        ntptime.settime()
        return clock.now()

    return ntp


def provision(store, cfg):
    """First boot: move the config's bootstrap section into the credential store."""
    boot = cfg.get("bootstrap")
    if not boot:
        return
    c = store.load()
    if c.generation == 0:
        if boot.get("user") is not None:
            c.boot_user = boot["user"]
            c.boot_password = boot.get("password", "")
        if boot.get("ca"):
            with open(boot["ca"], "rb") as f:
                c.trust = [f.read()]
        if boot.get("fingerprint"):
            c.config["fingerprint"] = boot["fingerprint"]
        if boot.get("cert") and boot.get("key"):  # a factory identity (DER files)
            with open(boot["cert"], "rb") as f:
                c.boot_chain = [f.read()]
            with open(boot["key"], "rb") as f:
                c.boot_key = f.read()
        store.commit(c)
        log("provision", "bootstrap credential stored")
    del cfg["bootstrap"]
    write_json(CONFIG, cfg)


def sleep_until_due(seconds, wake_at):
    try:
        import machine

        deep = machine.deepsleep
    except (ImportError, AttributeError):
        deep = None
    if deep is None:
        print("WAKE %d %d" % (-1 if wake_at is None else wake_at, seconds))
        sys.exit(0)
    deep(int(seconds) * 1000)


def main():
    cfg = read_json(CONFIG)
    from tinyest.device import Device
    from tinyest.store import Store

    clock = Clock(cfg)
    store = Store(cfg.get("store", STORE))
    provision(store, cfg)
    wifi(cfg)
    wake_at = None
    try:
        est = dict(cfg.get("est") or {})
        if store.load().config.get("cn"):
            # Provisioned at the factory (tinyest-provision): the identity in the store is
            # this device's own; a config.json copied to every board must not replace it.
            est.pop("cn", None)
            est.pop("dns", None)
        # "scheme": "coaps" goes to the Device as it is: it makes coaps.for_device's clients
        dev = Device(store, progress=log, on_error=on_error, set_time=clock.set,
                     ntp=ntp_hook(cfg, clock), **est)
        seconds = dev.step(clock.now())
        wake_at = dev.wake_at
    except Exception as e:  # a bad setting, a damaged store, no memory: report, try later
        log("fault", "%s: %s" % (type(e).__name__, e))
        seconds = int(cfg.get("fault_sleep", 600))
    sleep_until_due(seconds, wake_at)


main()
