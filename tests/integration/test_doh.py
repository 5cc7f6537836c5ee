"""DNS over HTTPS (RFC 8484) over HTTP/2 and HTTP/1.1, the HTTP limits a
hostile client meets, DDR (RFC 9462) and /metrics."""
import base64
import http.server
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

import dns.message
import dns.rcode
import h2.config
import h2.connection
import h2.events
import pytest

from harness import LOCALHOST, ZONE, free_port, query, upstream, wait_until


@pytest.fixture
def doh(nsd, make_anchord):
    return make_anchord([upstream(nsd.port)], dot=True, https=True)


def url(a, path="/dns-query"):
    return f"https://{LOCALHOST}:{a.https_port}{path}"


def b64(wire):
    return base64.urlsafe_b64encode(wire).decode().rstrip("=")


def curl(a, *args, path="/dns-query"):
    out = subprocess.run(["curl", "-s", "--cacert", a.ca, "-o", "-",
                          "-w", "\n%{http_code}"] + list(args) + [url(a, path)],
                         capture_output=True, timeout=20)
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code or 0), body


def kdig(port, *args):
    return subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(port), "+time=3",
                           "+retry=0"] + list(args), capture_output=True,
                          text=True, timeout=20).stdout


def dig(port, *args):
    return subprocess.run(["dig", "@" + LOCALHOST, "-p", str(port), "+time=3",
                           "+tries=1"] + list(args), capture_output=True,
                          text=True, timeout=20).stdout


def test_kdig_and_dig_over_https_post_and_get(doh):
    ca = ["+tls-ca=" + doh.ca, "+tls-hostname=dns.anchord.test"]
    out = kdig(doh.https_port, "+https", *ca, "www." + ZONE)
    assert "HTTP/2-POST" in out and "127.0.0.10" in out, out
    out = kdig(doh.https_port, "+https-get", *ca, "local.anchord.test")
    assert "HTTP/2-GET" in out and "127.0.0.77" in out, out
    out = dig(doh.https_port, "+https", "+tls-ca=" + doh.ca,
              "+tls-hostname=dns.anchord.test", "alias." + ZONE, "+short")
    assert "127.0.0.10" in out, out
    out = dig(doh.https_port, "+https-get", "+tls-ca=" + doh.ca,
              "+tls-hostname=dns.anchord.test", "mail." + ZONE, "MX", "+short")
    assert "10 www." + ZONE in out, out


def test_curl_http1_get_and_post(doh):
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    code, body = curl(doh, "--http1.1", path="/dns-query?dns=" + b64(wire))
    assert code == 200
    assert dns.message.from_wire(body).answer[0][0].to_text() == "127.0.0.10"
    out = subprocess.run(["curl", "-s", "--http1.1", "--cacert", doh.ca, "-H",
                          "content-type: application/dns-message",
                          "--data-binary", "@-", "-D", "-", url(doh)],
                         input=wire, capture_output=True, timeout=20).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-type: application/dns-message" in head.lower()
    assert dns.message.from_wire(body).answer


def test_cache_control_follows_ttls(doh):
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null",
                          "--cacert", doh.ca,
                          url(doh, "/dns-query?dns=" + b64(wire))],
                         capture_output=True, text=True).stdout.lower()
    age = int(out.split("cache-control: max-age=")[1].split()[0])
    assert 290 <= age <= 300
    wire = dns.message.make_query("nothere." + ZONE, "A").to_wire()
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null",
                          "--cacert", doh.ca,
                          url(doh, "/dns-query?dns=" + b64(wire))],
                         capture_output=True, text=True).stdout.lower()
    assert "200" in out.splitlines()[0]          # NXDOMAIN is still 200
    assert "cache-control: max-age=30" in out    # the SOA minimum


def test_curl_resolves_through_doh(doh, make_anchord, nsd, tmp_path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    (tmp_path / "index.html").write_text("served by name\n")
    port = free_port()
    handler = lambda *a: Quiet(*a, directory=str(tmp_path))
    server = http.server.HTTPServer((LOCALHOST, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        a = make_anchord([upstream(nsd.port)], https=True, start=False)
        a.write_config(a.text.replace(
            'local-data:\n',
            'local-data:\n  - "web.anchord.test. 60 IN A 127.0.0.1"\n'))
        a.start()
        out = subprocess.run(["curl", "-s", "--cacert", a.ca, "--doh-url",
                              url(a), f"http://web.anchord.test:{port}/"],
                             capture_output=True, text=True, timeout=20)
        assert out.stdout == "served by name\n", out.stderr
    finally:
        server.shutdown()


def test_client_id_in_the_path(doh):
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    code, body = curl(doh, path="/dns-query/laptop-42?dns=" + b64(wire))
    assert code == 200 and dns.message.from_wire(body).answer
    code, _ = curl(doh, path="/dns-query/bad%20id?dns=" + b64(wire))
    assert code == 404


def test_rfc8484_errors_leave_the_connection_usable(doh):
    """415, 400, 413, 404, 405 and 414 over one HTTP/2 connection, then a
    good query on the same connection."""
    ctx = ssl.create_default_context(cafile=doh.ca)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection((LOCALHOST, doh.https_port)),
                        server_hostname="dns.anchord.test")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    cases = [
        ("POST", "/dns-query", [("content-type", "text/plain")], wire, 415),
        ("GET", "/dns-query?dns=%%%", [], b"", 400),
        ("GET", "/dns-query", [], b"", 400),
        ("POST", "/dns-query", [("content-type", "application/dns-message")],
         b"x" * 70000, 413),
        ("GET", "/nowhere", [], b"", 404),
        ("PUT", "/dns-query", [], b"", 405),
        ("GET", "/dns-query?dns=" + "A" * 9000, [], b"", 414),
        ("GET", "/dns-query?dns=" + b64(wire), [], b"", 200),
    ]
    statuses = {}
    for method, path, headers, body, _ in cases:
        sid = conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "https"),
                (":authority", "dns.anchord.test")] + headers
        conn.send_headers(sid, hdrs, end_stream=not body)
        s.sendall(conn.data_to_send())
        statuses[sid] = None
        sent = 0
        deadline = time.time() + 5
        while statuses[sid] is None and time.time() < deadline:
            # send what flow control allows, then read WINDOW_UPDATEs
            while body and sent < len(body) and \
                    conn.local_flow_control_window(sid) > 0:
                n = min(conn.local_flow_control_window(sid), 16384,
                        len(body) - sent)
                conn.send_data(sid, body[sent:sent + n],
                               end_stream=sent + n == len(body))
                sent += n
            s.sendall(conn.data_to_send())
            for ev in conn.receive_data(s.recv(65535)):
                if isinstance(ev, h2.events.ResponseReceived):
                    statuses[ev.stream_id] = int(dict(ev.headers)[":status"])
                if isinstance(ev, h2.events.StreamReset):
                    statuses[ev.stream_id] = -1
            s.sendall(conn.data_to_send())
    got = [statuses[k] for k in sorted(statuses)]
    assert got == [c[4] for c in cases], got
    s.close()


def test_http1_errors_and_keepalive(doh):
    ctx = ssl.create_default_context(cafile=doh.ca)
    ctx.set_alpn_protocols(["http/1.1"])

    def connect():
        return ctx.wrap_socket(
            socket.create_connection((LOCALHOST, doh.https_port), timeout=5),
            server_hostname="dns.anchord.test")

    pending = [b""]         # what arrived after the last response read

    def read_head(s):
        data = pending[0]
        while b"\r\n\r\n" not in data:
            data += s.recv(65535)
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    def exchange(s, raw, body=True):
        """Send raw, read one response (answers may share a read)."""
        s.sendall(raw)
        head, rest = read_head(s)
        length = int([l for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")][0]
                     .split(b":")[1]) if body else 0
        while len(rest) < length:
            rest += s.recv(65535)
        pending[0] = rest[length:]
        return head, rest[:length]

    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    s = connect()
    get = (f"GET /dns-query?dns={b64(wire)} HTTP/1.1\r\n"
           "Host: dns.anchord.test\r\n\r\n").encode()
    # two requests pipelined on one connection, answered in order
    s.sendall(get + get.replace(b"GET", b"HEAD", 1))
    head, body = exchange(s, b"")
    assert head.startswith(b"HTTP/1.1 200") and dns.message.from_wire(body)
    head, _ = exchange(s, b"", body=False)   # HEAD: no body follows
    assert head.startswith(b"HTTP/1.1 200")
    head, _ = exchange(s, ("POST /dns-query HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: text/plain\r\nContent-Length: 3\r\n"
                           "\r\nabc").encode())
    assert head.startswith(b"HTTP/1.1 415")
    head, body = exchange(s, get)                  # still usable
    assert head.startswith(b"HTTP/1.1 200")
    s.close()
    # framing errors: answered, then the connection is closed
    for raw, status in [
            (b"GET /dns-query HTTP/1.1\r\n\r\n", b"400"),        # no Host
            (b"GARBAGE\r\n\r\n", b"400"),
            (b"GET http://x/dns-query HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
            (b"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n", b"501"),
            (b"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 99999\r\n\r\n", b"413"),
            (b"GET /dns-query HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
            (b"GET /a HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"y" * 20000 +
             b"\r\n\r\n", b"431")]:
        s = connect()
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 " + status), (raw[:40], data[:60])
        assert b"connection: close" in data.lower()
        s.close()


def h2_connect(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection((LOCALHOST, a.https_port),
                                                 timeout=5),
                        server_hostname="dns.anchord.test")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    return s, conn


def read_until_closed(s, conn, timeout=5):
    """Returns True when the server sent GOAWAY or closed within timeout
    seconds; a server that just goes quiet is not one that closed."""
    end = time.time() + timeout
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data = s.recv(65535)
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True
        if not data:
            return True
        try:
            events = conn.receive_data(data)
        except Exception:
            return True
        if any(isinstance(e, h2.events.ConnectionTerminated) for e in events):
            return True
    return False


def test_rapid_reset_ends_the_connection_not_the_daemon(doh):
    s, conn = h2_connect(doh)
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    raw = b""
    for _ in range(2000):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                (":authority", "x"),
                                (":path", "/dns-query?dns=" + b64(wire))],
                          end_stream=True)
        conn.reset_stream(sid)
        raw += conn.data_to_send()
    try:
        s.sendall(raw)
    except OSError:
        pass
    assert read_until_closed(s, conn)
    s.close()
    assert query("www." + ZONE, port=doh.port).answer
    out = kdig(doh.https_port, "+https", "+tls-ca=" + doh.ca,
               "+tls-hostname=dns.anchord.test", "local.anchord.test", "+short")
    assert "127.0.0.77" in out


@pytest.mark.parametrize("frame", ["settings", "ping"])
def test_control_frame_floods_end_the_connection(doh, frame):
    s, conn = h2_connect(doh)
    raw = b""
    for i in range(5000):
        if frame == "ping":
            conn.ping(struct.pack("!Q", i))
        else:
            conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        raw += conn.data_to_send()
    try:
        s.sendall(raw)
    except OSError:
        pass
    assert read_until_closed(s, conn)
    s.close()
    assert wait_until(lambda: "anchord_http2_abuse_total 1" in
                      curl(doh, path="/metrics")[1].decode())


def test_h2load_many_streams(doh):
    wire = dns.message.make_query("local.anchord.test", "A").to_wire()
    out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "50",
                          url(doh, "/dns-query?dns=" + b64(wire))],
                         capture_output=True, text=True, timeout=60).stdout
    assert "2000 succeeded" in out and "0 failed" in out, out
    assert "status codes: 2000 2xx" in out, out


def test_dnsperf_over_doh(doh):
    qfile = os.path.join(doh.dir, "queries.txt")
    with open(qfile, "w") as f:
        for i in range(100):
            f.write(f"h{i % 25}.wild.{ZONE} A\n")
    out = subprocess.run(["dnsperf", "-m", "doh", "-s", LOCALHOST, "-p",
                          str(doh.https_port), "-d", qfile, "-n", "3", "-c",
                          "4", "-t", "5"], capture_output=True, text=True,
                         timeout=60).stdout
    assert "Queries completed:    300 (100.00%)" in out, out


def test_ddr_advertises_the_endpoints(doh):
    for name in ("_dns.resolver.arpa", "_dns.dns.anchord.test"):
        r = query(name, "SVCB", port=doh.port)
        assert r.rcode() == dns.rcode.NOERROR
        # dnspython 2.3 prints dohpath (key 7, RFC 9461) as key7
        texts = sorted(rr.to_text().replace("key7=", "dohpath=")
                       for rr in r.answer[0])
        assert texts == sorted([
            f'1 dns.anchord.test. alpn="h2,http/1.1" port="{doh.https_port}" '
            f'ipv4hint="127.0.0.1" dohpath="/dns-query{{?dns}}"',
            f'2 dns.anchord.test. alpn="dot" port="{doh.dot_port}" '
            f'ipv4hint="127.0.0.1"']), texts
    # resolver.arpa stays local: other names there do not exist
    assert query("x._dns.resolver.arpa", port=doh.port).rcode() == \
        dns.rcode.NXDOMAIN
    # verified discovery: the certificate names the address it was asked at
    ctx = ssl.create_default_context(cafile=doh.ca)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection((LOCALHOST, doh.https_port)),
                        server_hostname=LOCALHOST)   # checks the IP SAN
    assert s.selected_alpn_protocol() == "h2"
    s.close()


def test_metrics_move_with_queries(doh):
    def counter(text, name):
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(name + " missing:\n" + text)

    code, body = curl(doh, path="/metrics")
    assert code == 200
    before = body.decode()
    for i in range(5):
        query(f"m{i}.wild.{ZONE}", port=doh.port)
        query("local.anchord.test", port=doh.port, tcp=True)
    kdig(doh.https_port, "+https", "+tls-ca=" + doh.ca,
         "+tls-hostname=dns.anchord.test", "www." + ZONE)
    after = curl(doh, path="/metrics")[1].decode()
    assert counter(after, 'anchord_queries_total{transport="udp"}') >= \
        counter(before, 'anchord_queries_total{transport="udp"}') + 5
    assert counter(after, 'anchord_queries_total{transport="doh"}') >= 1
    assert counter(after, "anchord_upstream_latency_seconds_count") >= 5
    assert counter(after, "anchord_local_answers_total") >= 5
    assert counter(after, 'anchord_tls_handshakes_total{kind="https"}') >= 2
    assert 'anchord_answers_total{rcode="NOERROR"}' in after
    # promtool-style sanity: every sample line is "name{labels} number"
    for line in after.splitlines():
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_metrics_only_for_allowed_clients(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], https=True,
                     config_extra="http: { metrics-allow: [ 10.0.0.0/8 ] }")
    code, _ = curl(a, path="/metrics")
    assert code == 403
