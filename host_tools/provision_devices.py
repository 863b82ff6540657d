"""The two ways to write a device: ``AgentDevice`` through the provisioning agent
(``host_tools.agent_link``), ``ReplDevice`` through the raw REPL alone
(``host_tools.raw_repl``); and ``connect``, which finds out which one a port
answers."""

import hashlib
import time

from host_tools.agent_link import AgentClient, DeviceError, Link, LinkError, TransferLost
from host_tools.provision_exits import EXIT_DEVICE, EXIT_LINK, EXIT_UNKNOWN, Fail
from host_tools.raw_repl import RawRepl, ReplError, ReplFs, repl_identify
from tinyest import serialwire as wire

PROBE = 0.6  # seconds an agent has to answer HELLO before the raw REPL is tried
SLOW_FACTOR = 8  # key generation, commit, wipe: this many --timeout after the acknowledgement


def open_port(url, o):
    import serial

    kw = {"baudrate": o["baud"], "timeout": 0.02, "write_timeout": 10}
    try:
        try:
            return serial.serial_for_url(url, exclusive=True, **kw)
        except (TypeError, ValueError):
            return serial.serial_for_url(url, **kw)
    except (serial.SerialException, OSError, ValueError) as e:
        raise Fail(EXIT_LINK, "cannot open %s: %s" % (url, e), "untouched", hint=True)


class AgentDevice:
    mode = "agent"

    def __init__(self, client, repl=None):
        self.client = client
        self.repl = repl  # the REPL that started the agent, if any

    def identify(self):
        i = self.client.info()
        return {"id": i.get("id", ""), "fw": i.get("fw", "?"), "free": int(i.get("free", -1)),
                "state": i.get("state", "?"), "gen": int(i.get("gen", 0)),
                "agent": i.get("agent", "?"), "cn": i.get("cn", ""), "dns": i.get("dns", "")}

    def wipe(self):
        self.client.wipe()

    def finish(self, reboot):
        if reboot:
            self.client.reboot()
        elif self.repl is not None:
            self.client.quit()  # the agent returns to the raw REPL ...
            self.repl.leave()  # ... and this goes back to the friendly one

    def provision(self, plan, files, config, out, rep, o):
        c = self.client
        commit_sent = False
        last = None
        for attempt in range(1, o["attempts"] + 1):
            try:
                if attempt > 1:
                    rep.say("  %s; starting again (attempt %d of %d)" % (last, attempt, o["attempts"]))
                    c.hello()
                    got = c.info().get("id", "")
                    if got != out["device_id"]:
                        raise Fail(EXIT_DEVICE, "another device (%s) answers now" % got,
                                   "unknown" if commit_sent else "untouched")
                written = dict(files)
                expected = dict(files)
                c.begin()
                for name in wire.FILES:
                    if name in files:
                        self._put(name, files[name], rep)
                if plan.method == "station":
                    rep.progress("making the device key")
                    n, digest = c.genkey(config["cn"], o["curve"])
                    csr = c.read("csr", n)
                    if hashlib.sha256(csr).digest() != digest:
                        raise Fail(EXIT_DEVICE, "the CSR read from the device is damaged")
                    rep.progress("enrolling the device CSR with %s:%d" % (plan.host, plan.port))
                    chain = plan.enroll(csr)
                    written["chain"] = expected["chain"] = b"".join(chain)
                    expected["key"] = _spki(chain[0])
                    out["cert_sha256"] = hashlib.sha256(chain[0]).hexdigest()
                    self._put("chain", written["chain"], rep)
                rep.progress("committing")
                commit_sent = True
                out["state"] = "unknown"  # until the store is read back (or cleaned)
                gen = c.commit(wire.set_digest(written))
                want = wire.set_digest(expected, wire.ITEMS)
                key = wire.fresh_key()
                count, proof, _ = c.readback(key)
                if count != len(expected) or proof != wire.keyed(key, want):
                    key = wire.fresh_key()
                    _, _, items = c.readback(key, items=True)
                    bad = sorted(n for n in set(items) | set(expected)
                                 if items.get(n, (0, b""))[1] != wire.keyed(key, expected.get(n, b"\0")))
                    raise Fail(EXIT_DEVICE, "the store read back differs in %s" % ", ".join(bad), "wipe")
                out["written_sha256"] = want.hex()
                out["state"] = "provisioned"
                rep.say("  wrote %s; HMAC of each read back: match"
                        % ", ".join("%s (%d B)" % (n, len(written[n])) for n in wire.FILES if n in written))
                rep.say("  committed generation %d; read back %d items from the store: match" % (gen, count))
                return
            except (TransferLost, LinkError) as e:
                last = ("the device restarted" if isinstance(e, TransferLost)
                        else "link lost (%s)" % e)
                continue
            except DeviceError as e:
                self._clean(out, commit_sent)
                raise Fail(EXIT_DEVICE, "the device refused: %s" % e, out["state"])
            except Fail as e:
                if e.state is None or e.state == "wipe":
                    self._clean(out, commit_sent or e.state == "wipe")
                    e.state = out["state"]
                raise
        if commit_sent:
            raise Fail(EXIT_UNKNOWN, "%s after a commit was sent; the device holds the old or the "
                       "new set, never a mix" % last, "unknown", hint=True)
        raise Fail(EXIT_LINK, "%s; nothing was committed" % last, "untouched", hint=True)

    def _clean(self, out, committed):
        try:
            if committed:
                self.client.wipe()
                out["state"] = "wiped"
            else:
                self.client.abort()
                out["state"] = "untouched"
        except (LinkError, DeviceError):
            out["state"] = "unknown" if committed else "untouched"

    def _put(self, name, data, rep):
        def progress(n, done, total):
            rep.progress("writing %s" % n, done, total)

        self.client.put(name, data, progress)
        key = wire.fresh_key()
        n, proof = self.client.hash(name, key)
        if n != len(data) or proof != wire.keyed(key, data):
            raise Fail(EXIT_DEVICE, "%s arrived damaged on the device (its HMAC differs)" % name)


class ReplDevice:
    mode = "repl"

    def __init__(self, repl, info, root):
        from tinyest.store import Store

        self.repl = repl
        self.info = info
        self.root = root
        self.fs = ReplFs(repl)
        self.store = Store(root, self.fs)

    def identify(self):
        try:
            s = self.fs.summary(self.root)  # read on the board: no value crosses the line
        except OSError as e:
            raise ReplError("the raw REPL stopped answering (%s)" % e)
        self.info["gen"] = gen = s.get("gen", 0)
        return {"id": self.info.get("id") or "", "fw": self.info.get("fw", "?"),
                "free": self.info.get("free", -1), "state": s.get("state", "?"), "gen": gen,
                "agent": "none (raw REPL)", "cn": s.get("cn", ""), "dns": s.get("dns", "")}

    def wipe(self):
        self.store.wipe()

    def finish(self, reboot):
        if reboot:
            self.repl.send("try:\n import machine\n machine.reset()\nexcept Exception:\n pass\n")
            try:
                self.repl.follow(timeout=2)
                self.repl.port.write(b"\x04")  # soft reset where there is no machine.reset
            except ReplError:
                pass
        else:
            self.repl.leave()

    def provision(self, plan, files, config, out, rep, o):
        from tinyest.errors import EstError

        if plan.method == "station":
            raise Fail(EXIT_DEVICE, "station enrollment needs the provisioning agent on the device "
                       "(the key is made there)", "untouched")
        creds = plan.credentials(files, config)
        old = self.info.get("gen", 0)
        last = None
        for attempt in range(1, o["attempts"] + 1):
            try:
                if attempt > 1:
                    rep.say("  %s; starting again (attempt %d of %d)" % (last, attempt, o["attempts"]))
                    self._reconnect(out, o)
                rep.progress("writing the store through the raw REPL")
                out["state"] = "unknown"  # until the store is read back (or cleaned)
                gen = self.store.commit(creds)
                if old:
                    gen = self.store.commit(creds)  # the older slot held the replaced set
                # Read back on the board: the newest intact slot, its generation, and
                # the HMAC of its octets under a fresh key against what was written.
                s = self.fs.summary(self.root)
                path = self.root.rstrip("/") + "/" + str(s.get("slot"))
                data = self.fs.landed.get(path)
                same = s.get("gen") == gen and data is not None and self.fs.same(path, data)
                break
            except (EstError, OSError, ReplError) as e:
                if isinstance(e, ReplError) or self.fs.broken:
                    last = "the raw REPL stopped answering (%s)" % e
                    continue
                self._clean(out, self.fs.renames > 0)
                raise Fail(EXIT_DEVICE, "writing the store through the raw REPL failed: %s" % e, out["state"])
        else:
            committed = self.fs.renames > 0
            self._clean(out, committed)
            if committed and out["state"] != "wiped":
                raise Fail(EXIT_UNKNOWN, "%s after the commit began; the device holds the old or the "
                           "new set, never a mix" % last, "unknown", hint=True)
            raise Fail(EXIT_LINK, "%s; %s" % (last, "the store was wiped" if committed else "nothing was committed"),
                       out["state"], hint=True)
        items = dict(wire.render(creds))
        want = wire.set_digest(files, wire.ITEMS)
        if not same or wire.set_digest(items, wire.ITEMS) != want:
            self._clean(out, True)
            raise Fail(EXIT_DEVICE, "the store read back differs from what was written", out["state"])
        out["written_sha256"] = want.hex()
        out["state"] = "provisioned"
        rep.say("  wrote %s through the raw REPL; the slot file's HMAC matched before its rename"
                % ", ".join("%s (%d B)" % (n, len(files[n])) for n in wire.FILES if n in files))
        rep.say("  committed generation %d; read back the newest slot (%d items) on the board: match"
                % (gen, len(items)))

    def _reconnect(self, out, o):
        end = time.monotonic() + o["timeout"]
        while True:
            try:
                self.repl.enter(timeout=1.0)
                info = repl_identify(self.repl, self.root)
                break
            except ReplError:
                if time.monotonic() >= end:
                    raise
        if (o["device_id"] or info.get("id")) != out["device_id"]:
            raise Fail(EXIT_DEVICE, "another device (%s) answers now" % info.get("id"),
                       "unknown" if self.fs.renames else "untouched")
        self.fs.install()

    def _clean(self, out, committed):
        try:
            if self.fs.broken:
                self.repl.enter()
                self.fs.install()
            try:
                self.fs.remove(self.root + "/cred.tmp")
            except OSError:
                pass
            if committed:
                self.store.wipe()
                out["state"] = "wiped"
            else:
                out["state"] = "untouched"
        except Exception:  # the board is gone or wedged: say what is known
            out["state"] = "unknown" if committed else "untouched"


def connect(port, o, rep, probe=None):
    """An AgentDevice or ReplDevice for the device on ``port``."""
    link = Link(port, frame_timeout=o["frame_timeout"], answer_timeout=o["timeout"],
                   slow_timeout=SLOW_FACTOR * o["timeout"])
    client = AgentClient(link)
    mode = o["mode"]
    if mode in ("auto", "agent"):
        try:
            try:
                client.hello(answer_timeout=probe or (PROBE if mode == "auto" else o["timeout"]), probe=True)
            except LinkError:
                if not link.heard_agent:
                    raise
                client.hello()  # an agent NAKed: a bad line, not a REPL
            return AgentDevice(client)
        except LinkError:
            pass
        except DeviceError as e:
            raise Fail(EXIT_DEVICE, "the agent refused HELLO: %s" % e, "untouched")
    repl = RawRepl(port, timeout=min(o["timeout"], 5.0))
    try:
        repl.enter()
        info = repl_identify(repl, o["store"])
    except ReplError:
        if mode == "auto":
            try:  # an agent slow to start (a board still booting) gets the full time
                client.hello(answer_timeout=o["timeout"], probe=not link.heard_agent)
                return AgentDevice(client)
            except (LinkError, DeviceError):
                pass
        what = {"agent": "no answer from the provisioning agent",
                "repl": "no answer from a MicroPython raw REPL"}.get(
            mode, "no answer: neither the provisioning agent nor a MicroPython REPL answers")
        raise Fail(EXIT_LINK, what, "untouched", hint=True)
    if info.get("agent") and mode != "repl":
        try:
            repl.send("import provision_agent\nprovision_agent.main(%r)\n" % o["store"])
            link.pending.extend(link.dec.feed(bytes(repl.rbuf)))
            repl.rbuf = bytearray()
            client.hello()
        except (ReplError, LinkError) as e:
            raise Fail(EXIT_LINK, "could not start the agent on the board: %s" % e, "untouched", hint=True)
        return AgentDevice(client, repl)
    if mode == "agent":
        raise Fail(EXIT_DEVICE, "the board has no provisioning agent (provision_agent.py)", "untouched")
    return ReplDevice(repl, info, o["store"])


def _spki(cert_der):
    from tinyest import x509

    return bytes(x509.Certificate(cert_der).public_key_der)
