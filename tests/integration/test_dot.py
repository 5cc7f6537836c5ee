"""DNS over TLS (RFC 7858) as strict RFC 8310 clients see it: kdig,
gnutls-cli, stubby, dnsperf, Python's ssl, and anchord itself as a DoT
client of another anchord."""
import os
import signal
import socket
import ssl
import subprocess
import time

import dns.edns
import dns.message
import dns.rcode
import pytest

from harness import (LOCALHOST, ZONE, Anchord, ede_of, free_port, query,
                     stream_exchange, tls_connect, tls_context, upstream,
                     wait_until)


@pytest.fixture
def dot(nsd, make_anchord):
    return make_anchord([upstream(nsd.port)], dot=True)


def kdig(port, *args):
    out = subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(port), "+time=3",
                          "+retry=0"] + list(args),
                         capture_output=True, text=True, timeout=20)
    return out.stdout + out.stderr


def test_kdig_with_the_ca_and_the_name(dot):
    out = kdig(dot.dot_port, "+tls-ca=" + dot.ca,
               "+tls-hostname=dns.anchord.test", "www." + ZONE, "A")
    assert "127.0.0.10" in out and "NOERROR" in out, out
    assert "TLS1.3" in out
    # the certificate does not name another host
    out = kdig(dot.dot_port, "+tls-ca=" + dot.ca, "+tls-hostname=other.test",
               "www." + ZONE)
    assert "127.0.0.10" not in out


def test_kdig_with_the_pin(dot):
    pin = dot.pin()
    out = kdig(dot.dot_port, "+tls-pin=" + pin, "local.anchord.test", "+short")
    assert "127.0.0.77" in out, out
    wrong = "A" * 43 + "="
    out = kdig(dot.dot_port, "+tls-pin=" + wrong, "local.anchord.test",
               "+short")
    assert "127.0.0.77" not in out


def test_pin_is_logged_and_matches_anchorctl(dot):
    pin = dot.pin()
    assert f"SPKI pin (sha256) {pin}" in dot.log()
    out = subprocess.run(["/usr/bin/env", os.path.join(
        os.path.dirname(os.environ.get("ANCHORD", "build/anchord")),
        "anchorctl"), "-c", dot.conf, "pin"], capture_output=True, text=True)
    assert f"_{dot.dot_port}._tcp.dns.anchord.test. IN TLSA 3 1 1 " in out.stdout


def test_auto_certificate_names_and_key_files(dot):
    out = subprocess.run(["certtool", "-i", "--infile",
                          os.path.join(dot.state, "server.pem")],
                         capture_output=True, text=True).stdout
    assert "DNSname: dns.anchord.test" in out
    assert "IPAddress: 127.0.0.1" in out
    assert "SRVName: _domain-s.dns.anchord.test" in out
    for key in ("ca.key", "server.key", "tickets.key"):
        mode = os.stat(os.path.join(dot.state, key)).st_mode & 0o777
        assert mode == 0o600, (key, oct(mode))


def gnutls_cli(port, *args):
    out = subprocess.run(["gnutls-cli", "-p", str(port), LOCALHOST,
                          "--insecure"] +
                         list(args), input="", capture_output=True,
                         text=True, timeout=20)
    return out.stdout + out.stderr


def test_gnutls_cli_versions_and_alpn(dot):
    out = gnutls_cli(dot.dot_port, "--alpn=dot")
    assert "Handshake was completed" in out, out
    assert "(TLS1.3-" in out and "Application protocol: dot" in out, out
    out = gnutls_cli(dot.dot_port, "--priority=NORMAL:-VERS-TLS1.3")
    assert "Handshake was completed" in out and "(TLS1.2-" in out, out
    out = gnutls_cli(dot.dot_port,
                     "--priority=NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0")
    assert "Handshake was completed" not in out


def openssl_client(port, *args):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOCALHOST}:{port}"] +
        list(args), input="", capture_output=True, text=True,
        timeout=20).stdout


def test_openssl_client_gets_x25519_without_a_retry(dot):
    """OpenSSL sends a key share for its first group only: the server must
    take it rather than ask again (HelloRetryRequest, one more round trip)."""
    out = openssl_client(dot.dot_port, "-groups", "X25519:P-256", "-msg")
    assert "Server Temp Key: X25519" in out, out
    assert out.count("ServerHello") == 1, out   # an HRR is a ServerHello too
    out = openssl_client(dot.dot_port, "-groups", "P-256")
    assert "Server Temp Key: ECDH, prime256v1" in out, out


def stubby_config(path, listen_port, dot_port, pin):
    with open(path, "w") as f:
        f.write(f"""resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list: [ GETDNS_TRANSPORT_TLS ]
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
idle_timeout: 5000
round_robin_upstreams: 0
listen_addresses: [ 127.0.0.1@{listen_port} ]
upstream_recursive_servers:
  - address_data: 127.0.0.1
    tls_port: {dot_port}
    tls_auth_name: "dns.anchord.test"
    tls_pubkey_pinset:
      - digest: "sha256"
        value: {pin}
""")


def run_stubby(tmp_path, dot_port, pin):
    port = free_port()
    conf = str(tmp_path / f"stubby-{port}.yml")
    stubby_config(conf, port, dot_port, pin)
    proc = subprocess.Popen(["stubby", "-C", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, port


def test_stubby_with_a_pinset(dot, tmp_path):
    proc, port = run_stubby(tmp_path, dot.dot_port, dot.pin())
    try:
        assert wait_until(lambda: query("www." + ZONE, port=port,
                                        timeout=1).answer, timeout=10)
        r = query("local.anchord.test", port=port)
        assert r.answer[0][0].to_text() == "127.0.0.77"
    finally:
        proc.terminate()
        proc.wait(10)
    # a pin that is not anchord's: strict stubby gets nothing through
    proc, port = run_stubby(tmp_path, dot.dot_port, "B" * 43 + "=")
    try:
        time.sleep(0.5)
        try:
            r = query("www." + ZONE, port=port, timeout=2)
            assert not r.answer
        except Exception:
            pass
    finally:
        proc.terminate()
        proc.wait(10)


def test_padded_query_gets_a_padded_answer(dot):
    s = tls_connect(dot.dot_port)
    padded = dns.message.make_query("www." + ZONE, "A", use_edns=0, pad=128)
    answer = stream_exchange(s, padded.to_wire())
    assert len(answer) % 468 == 0
    m = dns.message.from_wire(answer)
    assert [o for o in m.options if o.otype == dns.edns.PADDING]
    plain = dns.message.make_query("www." + ZONE, "A", use_edns=0)
    answer = stream_exchange(s, plain.to_wire())
    m = dns.message.from_wire(answer)
    assert not [o for o in m.options if o.otype == dns.edns.PADDING]
    s.close()
    # never over unencrypted transports
    r = query("www." + ZONE, port=dot.port, use_edns=0, pad=128)
    assert not [o for o in r.options if o.otype == dns.edns.PADDING]


def test_pipelining_and_out_of_order_over_tls(nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port, delay=0.3)
    a = make_anchord([upstream(relay.port)], dot=True)
    s = tls_connect(a.dot_port)
    wires = []
    for i, name in enumerate(["www." + ZONE] + ["local.anchord.test"] * 3):
        q = dns.message.make_query(name, "A")
        q.id = 500 + i
        wires.append(q.to_wire())
    import struct
    s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
    ids = []
    buf = b""
    while len(ids) < 4:
        buf += s.recv(4096)
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            ids.append(dns.message.from_wire(buf[2:2 + n]).id)
            buf = buf[2 + n:]
    s.close()
    assert sorted(ids) == [500, 501, 502, 503] and ids[-1] == 500


def test_idle_connection_is_closed(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True,
                     server_extra="  tcp-idle-timeout: 1s")
    s = tls_connect(a.dot_port)
    stream_exchange(s, dns.message.make_query("www." + ZONE, "A").to_wire())
    start = time.monotonic()
    assert s.recv(100) == b""           # close_notify, then EOF
    assert 0.7 < time.monotonic() - start < 3
    s.close()


def test_client_stopping_mid_handshake_loses_its_slot(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True,
                     config_extra="tls: { handshake-timeout: 1s }",
                     server_extra="  max-connections-per-client: 2")
    silent = socket.create_connection((LOCALHOST, a.dot_port), timeout=5)
    partial = socket.create_connection((LOCALHOST, a.dot_port), timeout=5)
    partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    start = time.monotonic()
    for s in (silent, partial):
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
    assert time.monotonic() - start < 2.5
    # and the slots they held are free again
    s = tls_connect(a.dot_port)
    assert stream_exchange(s, dns.message.make_query(
        "local.anchord.test", "A").to_wire())
    s.close()


def test_session_resumption_across_a_restart(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True)
    ctx = tls_context()
    s = tls_connect(a.dot_port, ctx)
    stream_exchange(s, dns.message.make_query("www." + ZONE, "A").to_wire())
    session = s.session         # TLS 1.3: the ticket came after the handshake
    s.close()
    s = tls_connect(a.dot_port, ctx, session=session)
    assert s.session_reused
    s.close()
    # a restarted daemon (same state directory) still knows the ticket key
    a.stop()
    a.start()
    s = tls_connect(a.dot_port, ctx, session=session)
    stream_exchange(s, dns.message.make_query("www." + ZONE, "A").to_wire())
    assert s.session_reused
    s.close()


def test_two_workers_resume_each_others_sessions(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True,
                     server_extra="  workers: 2")
    ctx = tls_context()
    s = tls_connect(a.dot_port, ctx)
    stream_exchange(s, dns.message.make_query("www." + ZONE, "A").to_wire())
    session = s.session
    s.close()
    # SO_REUSEPORT spreads new connections over both workers
    for _ in range(10):
        s = tls_connect(a.dot_port, ctx, session=session)
        assert s.session_reused
        s.close()


def test_chained_stub_to_resolver_over_dot_with_a_pin(nsd, make_anchord):
    resolver = make_anchord([upstream(nsd.port)], dot=True)
    pin = resolver.pin()
    stub = make_anchord([f"{{ address: 127.0.0.1, port: {resolver.dot_port},"
                         f" transport: dot, pin: \"{pin}\" }}"])
    for name in ("www." + ZONE, "alias." + ZONE, "h1.wild." + ZONE):
        r = query(name, port=stub.port)
        assert r.rcode() == dns.rcode.NOERROR and r.answer, name
    # many queries share one pipelined connection
    for i in range(20):
        assert query(f"c{i}.wild.{ZONE}", port=stub.port, tcp=True).answer
    conns = resolver.log().count("handshake")
    assert conns <= 2


def test_chained_with_the_name_and_the_ca(nsd, make_anchord):
    resolver = make_anchord([upstream(nsd.port)], dot=True)
    stub = make_anchord([f"{{ address: 127.0.0.1, port: {resolver.dot_port},"
                         f" transport: dot, name: dns.anchord.test,"
                         f" ca: {resolver.ca} }}"])
    assert query("www." + ZONE, port=stub.port).answer
    wrong = make_anchord([f"{{ address: 127.0.0.1, port: {resolver.dot_port},"
                          f" transport: dot, name: other.anchord.test,"
                          f" ca: {resolver.ca} }}"])
    r = query("www." + ZONE, port=wrong.port, timeout=6, use_edns=0)
    assert r.rcode() == dns.rcode.SERVFAIL


def test_wrong_pin_upstream_fails(nsd, make_anchord):
    resolver = make_anchord([upstream(nsd.port)], dot=True)
    stub = make_anchord([f"{{ address: 127.0.0.1, port: {resolver.dot_port},"
                         f" transport: dot, pin: \"{'A' * 43}=\" }}"])
    r = query("www." + ZONE, port=stub.port, timeout=6, use_edns=0)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert ede_of(r)[0] == 23
    assert "not configured" in stub.log()


def issue_client_cert(anchord, workdir, cn, ca_key=None, ca_cert=None):
    """A client certificate signed by anchord's CA (or another one)."""
    key = os.path.join(workdir, f"{cn}.key")
    cert = os.path.join(workdir, f"{cn}.pem")
    tmpl = os.path.join(workdir, f"{cn}.tmpl")
    with open(tmpl, "w") as f:
        f.write(f'cn = "{cn}"\nexpiration_days = 30\ntls_www_client\n'
                'signing_key\n')
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--outfile", key], check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-certificate", "--load-privkey",
                    key, "--load-ca-privkey",
                    ca_key or os.path.join(anchord.state, "ca.key"),
                    "--load-ca-certificate", ca_cert or anchord.ca,
                    "--template", tmpl, "--outfile", cert],
                   check=True, capture_output=True)
    return cert, key


def test_client_certificates_required(nsd, make_anchord, tmp_path):
    a = make_anchord([upstream(nsd.port)], dot=True,
                     config_extra="tls: { client-certificates: require }")
    out = kdig(a.dot_port, "+tls-ca=" + a.ca, "+tls-hostname=dns.anchord.test",
               "local.anchord.test", "+short")
    assert "127.0.0.77" not in out
    cert, key = issue_client_cert(a, str(tmp_path), "laptop-1")
    out = kdig(a.dot_port, "+tls-ca=" + a.ca, "+tls-hostname=dns.anchord.test",
               "+tls-certfile=" + cert, "+tls-keyfile=" + key,
               "local.anchord.test", "+short")
    assert "127.0.0.77" in out, out
    assert wait_until(lambda: "client certificate CN=laptop-1 verified" in
                      a.log())
    # a certificate from a CA anchord does not know is not enough
    subprocess.run(["certtool", "--generate-privkey", "--outfile",
                    str(tmp_path / "other-ca.key")], check=True,
                   capture_output=True)
    (tmp_path / "ca.tmpl").write_text('cn = "other CA"\nca\ncert_signing_key\n'
                                      'expiration_days = 30\n')
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    str(tmp_path / "other-ca.key"), "--template",
                    str(tmp_path / "ca.tmpl"), "--outfile",
                    str(tmp_path / "other-ca.pem")], check=True,
                   capture_output=True)
    cert, key = issue_client_cert(a, str(tmp_path), "intruder",
                                  str(tmp_path / "other-ca.key"),
                                  str(tmp_path / "other-ca.pem"))
    out = kdig(a.dot_port, "+tls-ca=" + a.ca, "+tls-hostname=dns.anchord.test",
               "+tls-certfile=" + cert, "+tls-keyfile=" + key,
               "local.anchord.test", "+short")
    assert "127.0.0.77" not in out


def test_client_certificates_requested(dot, tmp_path):
    # request (the default): anonymous clients are served too
    out = kdig(dot.dot_port, "+tls-ca=" + dot.ca,
               "+tls-hostname=dns.anchord.test", "local.anchord.test", "+short")
    assert "127.0.0.77" in out
    cert, key = issue_client_cert(dot, str(tmp_path), "phone-7")
    out = kdig(dot.dot_port, "+tls-ca=" + dot.ca,
               "+tls-hostname=dns.anchord.test", "+tls-certfile=" + cert,
               "+tls-keyfile=" + key, "local.anchord.test", "+short")
    assert "127.0.0.77" in out
    assert wait_until(lambda: "client certificate CN=phone-7 verified" in
                      dot.log())


def self_signed(workdir, name, cn):
    key = os.path.join(workdir, name + ".key")
    cert = os.path.join(workdir, name + ".pem")
    tmpl = os.path.join(workdir, name + ".tmpl")
    with open(tmpl, "w") as f:
        f.write(f'cn = "{cn}"\ndns_name = "{cn}"\nexpiration_days = 30\n'
                'tls_www_server\nsigning_key\n')
    subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa",
                    "--outfile", key], check=True, capture_output=True)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                    key, "--template", tmpl, "--outfile", cert], check=True,
                   capture_output=True)
    return cert, key


def spki_pin(cert):
    out = subprocess.run(["certtool", "-i", "--infile", cert],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "pin-sha256:" in line:
            return line.split("pin-sha256:")[1].strip()
    raise AssertionError(out)


def test_configured_files_and_reload_without_dropping(nsd, make_anchord,
                                                      tmp_path):
    c1, k1 = self_signed(str(tmp_path), "one", "dns.anchord.test")
    c2, k2 = self_signed(str(tmp_path), "two", "dns.anchord.test")
    a = make_anchord([upstream(nsd.port)], dot=True,
                     config_extra=f"tls: {{ certificate: {c1}, key: {k1} }}")
    assert a.pin() == spki_pin(c1)
    old = tls_connect(a.dot_port)
    stream_exchange(old, dns.message.make_query("www." + ZONE, "A").to_wire())
    a.write_config(a.text.replace(
        "tls: { certificate: %s, key: %s }" % (c1, k1),
        "tls: { certificate: %s, key: %s }" % (c2, k2)))
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "reloaded" in a.log())
    # new connections see the new key
    out = kdig(a.dot_port, "+tls-pin=" + spki_pin(c2), "local.anchord.test",
               "+short")
    assert "127.0.0.77" in out
    # the connection opened before the reload still works
    assert stream_exchange(old, dns.message.make_query(
        "local.anchord.test", "A").to_wire())
    old.close()
    # a key that does not load is refused; the old one stays
    a.write_config(a.text.replace(
        "tls: { certificate: %s, key: %s }" % (c1, k1),
        "tls: { certificate: %s, key: /nonexistent.key }" % c2))
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload refused" in a.log())
    out = kdig(a.dot_port, "+tls-pin=" + spki_pin(c2), "local.anchord.test",
               "+short")
    assert "127.0.0.77" in out


def test_new_name_reissues_the_auto_certificate_with_the_same_pin(
        nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True)
    pin = a.pin()
    a.write_config(a.text.replace("name: dns.anchord.test",
                                  "name: resolver.anchord.test"))
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "reloaded" in a.log())
    out = kdig(a.dot_port, "+tls-ca=" + a.ca,
               "+tls-hostname=resolver.anchord.test", "local.anchord.test",
               "+short")
    assert "127.0.0.77" in out
    assert a.pin() == pin


def test_dnsperf_over_dot(dot):
    qfile = os.path.join(dot.dir, "queries.txt")
    with open(qfile, "w") as f:
        for i in range(200):
            f.write(f"h{i % 50}.wild.{ZONE} A\n")
    out = subprocess.run(["dnsperf", "-m", "dot", "-s", LOCALHOST, "-p",
                          str(dot.dot_port), "-d", qfile, "-n", "3", "-c",
                          "4", "-t", "5"], capture_output=True, text=True,
                         timeout=60).stdout
    assert "Queries completed:    600 (100.00%)" in out, out
