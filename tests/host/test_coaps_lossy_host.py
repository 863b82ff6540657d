"""EST over CoAP over a lossy link: tinyest.coaps on CPython, MicroPython and the
32-bit board model enrolls and renews with the dev server's coaps side through
``lossy_relay.LossyRelay``, which drops and duplicates DTLS application-data
datagrams both ways (the handshake passes untouched: see lossy_relay). CoAP's
retransmission (a short ack_timeout, so the test takes seconds) must recover
every loss; the issued certificates are checked as in test_coaps_host."""
import socket

import pytest
from lossy_relay import LossyRelay, application_data
from test_coaps_host import SCRIPT, _check_steps, _run, _steps

from host_tools.devserver.coaps import CoapsServer


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_enroll_and_renew_through_a_lossy_link(tmp_path, runtime):
    srv = CoapsServer(path="/est").start()
    relay = LossyRelay(("127.0.0.1", srv.port))
    try:
        p = _run(srv, SCRIPT, tmp_path, runtime, "/est", port=relay.port, options=["--ack-timeout", "0.2"])
    finally:
        relay.close()
        srv.stop()
    steps = _steps(p)
    _check_steps(srv, steps, "/est")  # crts, sen, sren (and discovery, att, skg): all right
    assert [(op, out) for op, _, out in srv.log] == [("sen", "2.04"), ("sren", "2.04"), ("skg", "2.04")]
    for direction in ("up", "down"):
        c = relay.counts[direction]
        # requests and answers really were lost and repeated; the two handshakes went through untouched
        assert c["dropped"] >= 2 and c["duplicated"] >= 1 and c["other"] >= 4, relay.counts


def test_relay_pattern():
    """The relay's fixed pattern, over plain UDP: of the application-data
    datagrams of a direction every 3rd is dropped and every 4th sent twice
    (the 12th dropped); anything else passes once."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.5)
    relay = LossyRelay(sink.getsockname())
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        def record(kind, n):
            return bytes([kind, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, n, 0, 1, n])

        sent = [record(23, n) for n in range(1, 13)] + [record(22, 99), record(21, 98)]
        for data in sent:
            client.sendto(data, ("127.0.0.1", relay.port))
        got = []
        try:
            while True:
                got.append(sink.recv(100))
        except OSError:
            pass
    finally:
        relay.close()
        client.close()
        sink.close()
    assert [d[-1] for d in got] == [1, 2, 4, 4, 5, 7, 8, 8, 10, 11, 99, 98]
    assert relay.counts["up"] == {"app": 12, "dropped": 4, "duplicated": 2, "other": 2}
    # a datagram of two application-data records is one; a short or mixed one is not
    assert application_data(sent[0] + sent[1]) and not application_data(sent[0][:-1])
    assert not application_data(sent[0] + sent[-1]) and not application_data(b"")


def test_a_server_name_that_resolves_to_ipv6(tmp_path, monkeypatch):
    """CoapsClient makes its UDP socket in the family of the address the name
    resolves to: "localhost" resolved to ::1 (a relay there, lossless, to the
    server on 127.0.0.1) on CPython."""
    from host_tools import dtls
    from host_tools.devserver.ca import cert_der
    from tinyest.coaps import CoapsClient

    dtls.install()
    srv = CoapsServer(path="/est").start()
    relay = LossyRelay(("127.0.0.1", srv.port), drop=10 ** 9, duplicate=10 ** 9, listen="::1")
    real = socket.getaddrinfo

    def resolve(host, port, *a, **k):
        if host == "localhost":
            return [(socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("::1", port, 0, 0))]
        return real(host, port, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    try:
        cert, key = srv.factory_certificate("coaps-device-6")
        cl = CoapsClient("localhost", relay.port, trust=[cert_der(srv.ca.root)], cert=cert, key=key,
                         path="/est", timeout=10)
        assert cl.cacerts() == [cert_der(srv.ca.root)]
        cl.close()
    finally:
        relay.close()
        srv.stop()
    assert relay.counts["up"]["app"] >= 1 and relay.counts["down"]["app"] >= 1  # it went through ::1
