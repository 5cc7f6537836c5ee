"""The query log (log.queries): one JSON line per answered query, over
every transport, valid JSON whatever the name, rotated on SIGHUP and by
size."""
import base64
import json
import os
import re
import signal
import subprocess

import dns.message
import dns.name
import dns.rcode
import pytest

from harness import (LOCALHOST, ZONE, query, stream_exchange, tcp_exchange,
                     tls_connect, upstream, wait_until)
from test_dot import issue_client_cert

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# The harness asks for this name until anchord answers: not ours to count.
STARTUP_NAME = "local.anchord.test."


def log_path(a):
    return os.path.join(a.state, "queries.log")


def read_lines(path):
    """Every line of a query log, parsed (each must be valid JSON)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        raw = f.read()
    assert raw == b"" or raw.endswith(b"\n"), raw[-200:]
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def our_lines(path):
    return [e for e in read_lines(path) if e["name"] != STARTUP_NAME]


def wait_lines(path, n):
    assert wait_until(lambda: len(our_lines(path)) >= n), our_lines(path)
    lines = our_lines(path)
    assert len(lines) == n, lines
    return lines


@pytest.fixture
def logged(nsd, make_anchord):
    return make_anchord([upstream(nsd.port)], dot=True, https=True,
                        config_extra="  queries: true")


def check_common(e):
    assert TIME.match(e["time"]), e
    assert e["client"] == LOCALHOST
    assert isinstance(e["latency_ms"], float) and e["latency_ms"] >= 0
    assert isinstance(e["ede"], list)
    assert isinstance(e["cached"], bool)


def test_a_line_per_query_over_udp_and_tcp(logged):
    path = log_path(logged)
    assert query("www." + ZONE, port=logged.port).rcode() == dns.rcode.NOERROR
    assert query("www." + ZONE, port=logged.port).rcode() == dns.rcode.NOERROR
    assert query("www." + ZONE, "AAAA", port=logged.port,
                 tcp=True).rcode() == dns.rcode.NOERROR
    assert query("nothing." + ZONE, port=logged.port).rcode() == \
        dns.rcode.NXDOMAIN
    lines = wait_lines(path, 4)
    for e in lines:
        check_common(e)
        assert "identity" not in e and "client_id" not in e
    first, second, tcp, nx = lines
    assert (first["name"], first["type"], first["rcode"]) == \
        ("www.up.test.", "A", "NOERROR")
    assert first["transport"] == "udp" and first["cached"] is False
    assert second["transport"] == "udp" and second["cached"] is True
    assert (tcp["type"], tcp["transport"], tcp["cached"]) == \
        ("AAAA", "tcp", False)
    assert (nx["name"], nx["rcode"], nx["ede"]) == \
        ("nothing.up.test.", "NXDOMAIN", [])


def test_errors_carry_their_ede(logged):
    path = log_path(logged)
    r = query("www." + ZONE, port=logged.port, flags=0)  # no RD
    assert r.rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("www." + ZONE, "AXFR")
    (wire,) = tcp_exchange(logged.port, [q.to_wire()])
    assert dns.message.from_wire(wire).rcode() == dns.rcode.REFUSED
    norec, axfr = wait_lines(path, 2)
    assert (norec["rcode"], norec["ede"]) == ("REFUSED", [20])
    assert (axfr["type"], axfr["rcode"], axfr["ede"]) == \
        ("AXFR", "REFUSED", [21])


def test_dot_with_a_client_certificate_and_doh_with_a_client_id(
        logged, tmp_path):
    path = log_path(logged)
    cert, key = issue_client_cert(logged, str(tmp_path), 'laptop-1')
    out = subprocess.run(
        ["kdig", "@" + LOCALHOST, "-p", str(logged.dot_port), "+time=3",
         "+retry=0", "+tls-ca=" + logged.ca, "+tls-hostname=dns.anchord.test",
         "+tls-certfile=" + cert, "+tls-keyfile=" + key, "www." + ZONE],
        capture_output=True, text=True, timeout=20).stdout
    assert "127.0.0.10" in out, out
    s = tls_connect(logged.dot_port)
    wire = dns.message.make_query("mail." + ZONE, "MX").to_wire()
    dns.message.from_wire(stream_exchange(s, wire))
    s.close()
    doh_wire = dns.message.make_query("alias." + ZONE, "A").to_wire()
    b64 = base64.urlsafe_b64encode(doh_wire).decode().rstrip("=")
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
         logged.ca, f"https://{LOCALHOST}:{logged.https_port}"
         f"/dns-query/laptop-42?dns={b64}"],
        capture_output=True, text=True, timeout=20).stdout
    assert out == "200"
    with_cert, anonymous, doh = wait_lines(path, 3)
    for e in (with_cert, anonymous, doh):
        check_common(e)
    assert with_cert["transport"] == "dot"
    assert with_cert["identity"] == 'laptop-1'
    assert anonymous["transport"] == "dot" and "identity" not in anonymous
    assert (anonymous["name"], anonymous["type"]) == ("mail.up.test.", "MX")
    assert doh["transport"] == "doh" and doh["client_id"] == "laptop-42"
    assert doh["name"] == "alias.up.test."


def test_odd_names_are_valid_json(logged):
    path = log_path(logged)
    name = dns.name.Name([b'a"b', b"c\\d", b"\x00\xff\n", b"up", b"test",
                          b""])
    r = query(name, port=logged.port)
    assert r.rcode() == dns.rcode.NXDOMAIN
    (e,) = wait_lines(path, 1)
    # anchord's presentation form: \ and . escaped, non-printables \DDD
    assert e["name"] == 'a"b.c\\\\d.\\000\\255\\010.up.test.'


def test_sighup_reopens_the_file(logged):
    path = log_path(logged)
    query("www." + ZONE, port=logged.port)
    wait_lines(path, 1)
    os.rename(path, path + ".old")
    logged.signal(signal.SIGHUP)
    assert wait_until(lambda: os.path.exists(path))
    query("mail." + ZONE, "MX", port=logged.port)
    (e,) = wait_lines(path, 1)
    assert e["name"] == "mail.up.test."
    assert [e["name"] for e in our_lines(path + ".old")] == ["www.up.test."]


def test_rotation_by_size(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)],
                     config_extra="  queries: true\n"
                                  "  queries-max-size: 1K")
    path = log_path(a)
    for i in range(12):
        query(f"n{i}.{ZONE}", port=a.port)
    # each file holds whole lines and stays within the limit
    assert wait_until(lambda: any(e["name"] == f"n11.{ZONE}"
                                  for e in read_lines(path)))
    assert os.path.exists(path + ".1")
    assert os.path.getsize(path) <= 1024
    assert os.path.getsize(path + ".1") <= 1024
    lines = read_lines(path + ".1") + read_lines(path)
    numbers = [int(e["name"].split(".")[0][1:]) for e in lines
               if e["name"] != STARTUP_NAME]
    assert numbers == sorted(numbers) and numbers[-1] == 11, numbers


def test_metrics_report_drops(logged):
    out = subprocess.run(
        ["curl", "-s", "--cacert", logged.ca,
         f"https://{LOCALHOST}:{logged.https_port}/metrics"],
        capture_output=True, text=True, timeout=20).stdout
    assert "\nanchord_querylog_dropped_total 0\n" in out


def test_off_by_default(resolver):
    query("www." + ZONE, port=resolver.port)
    assert not os.path.exists(log_path(resolver))
