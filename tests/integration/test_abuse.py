"""Connection abuse, in the manner of Knot Resolver's tests: each test runs
an attack on a real anchord (plain DNS, DoT and DoH listeners, forwarding to
NSD) in a thread and, while it runs, a well-behaved client must still be
answered promptly over UDP, over a fresh DoT connection and over a fresh
DoH request (curl, HTTP/2). Afterwards the attacker's connections must have
been closed where the daemon's limits say, and the fixture stops the daemon
and fails the test on a non-zero exit or any sanitizer report in its log.

The attackers come from 127.0.0.2 and up, the good clients from 127.0.0.1,
so the per-client connection cap never hides whether a limit worked.
"""
import base64
import contextlib
import os
import random
import resource
import selectors
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
import h2.exceptions
import h2.settings
import pytest

from harness import (LOCALHOST, WRAPPER, ZONE, free_port, query,
                     stream_exchange, tls_connect, tls_context, upstream,
                     wait_until)

# A checker such as valgrind slows the daemon tenfold and more.
SLOW = 10 if WRAPPER else 1
DEADLINE = 2.0 * SLOW           # a good client is answered within this
ATTACKER = "127.0.0.2"


@pytest.fixture
def anchord(nsd, make_anchord):
    """anchord(config_extra=..., server_extra=...) with dns, dot and https
    listeners, forwarding to NSD."""
    def make(**kw):
        return make_anchord([upstream(nsd.port)], dot=True, https=True, **kw)
    return make


# ---------------------------------------------------------------- good clients

def b64(wire):
    return base64.urlsafe_b64encode(wire).decode().rstrip("=")


def url(a, path):
    return f"https://{LOCALHOST}:{a.https_port}{path}"


def curl(a, path, *args, timeout=DEADLINE, data=None):
    """(status, body) of one request with curl; status 0 when it failed."""
    out = subprocess.run(["curl", "-s", "--cacert", a.ca, "--max-time",
                          str(timeout), "-o", "-", "-w", "\n%{http_code}"]
                         + list(args) + [url(a, path)], input=data,
                         capture_output=True, timeout=timeout + 10)
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code or 0), body


def answered_over_udp(a):
    return query("www." + ZONE, port=a.port, timeout=DEADLINE).answer


def answered_over_dot(a):
    s = tls_connect(a.dot_port, tls_context(a.ca))
    try:
        s.settimeout(DEADLINE)
        wire = dns.message.make_query("www." + ZONE, "A").to_wire()
        return dns.message.from_wire(stream_exchange(s, wire)).answer
    finally:
        s.close()


def answered_over_doh(a):
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    code, body = curl(a, "/dns-query?dns=" + b64(wire), "--http2")
    return code == 200 and dns.message.from_wire(body).answer


def assert_good_clients_answered(a):
    """A UDP query, a fresh DoT connection and a fresh DoH request are each
    answered within DEADLINE seconds."""
    for name, ask in (("udp", answered_over_udp), ("dot", answered_over_dot),
                      ("doh", answered_over_doh)):
        start = time.monotonic()
        answer = ask(a)
        took = time.monotonic() - start
        assert answer, f"no answer over {name}"
        assert took < DEADLINE, f"{name} answered after {took:.2f} s"


# --------------------------------------------------------------------- attacks

@contextlib.contextmanager
def attack(fn):
    """Runs fn(stop) in a thread for the body of the with; re-raises what
    it raised and yields a dict it may fill for the test to look at."""
    stop = threading.Event()
    result = {}
    errors = []

    def run():
        try:
            fn(stop, result)
        except BaseException as e:     # reported in the test's thread
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield result
    finally:
        stop.set()
        t.join(60)
    assert not t.is_alive(), "the attack did not stop"
    if errors:
        raise errors[0]


def connect_from(port, source=ATTACKER, timeout=5):
    return socket.create_connection((LOCALHOST, port), timeout=timeout,
                                    source_address=(source, 0))


def tls_from(port, alpn, source=ATTACKER, ca=None):
    ctx = ssl.create_default_context(cafile=ca) if ca else \
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not ca:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    return ctx.wrap_socket(connect_from(port, source),
                           server_hostname="dns.anchord.test")


def drain(s):
    """Reads what s holds without blocking: (data, closed by the peer)."""
    s.settimeout(0)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                BlockingIOError):
            return data, False
        except OSError:                 # reset, or a TLS alert
            return data, True
        if not chunk:
            return data, True
        data += chunk


def wait_closed(socks, timeout):
    """Waits until the server has closed every socket; returns what each
    received (by index) and how many are still open."""
    received = {i: b"" for i in range(len(socks))}
    open_ = dict(enumerate(socks))
    end = time.monotonic() + timeout
    while open_ and time.monotonic() < end:
        with selectors.DefaultSelector() as sel:
            for i, s in open_.items():
                sel.register(s, selectors.EVENT_READ, i)
            ready = {key.data for key, _ in sel.select(0.1)}
        ready |= {i for i, s in open_.items()
                  if isinstance(s, ssl.SSLSocket) and s.pending()}
        for i in ready:
            data, closed = drain(open_[i])
            received[i] += data
            if closed:
                del open_[i]
    return received, len(open_)


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def metric(a, name):
    """A value of /metrics, e.g. 'anchord_http2_abuse_total'."""
    code, body = curl(a, "/metrics", timeout=10 * SLOW)
    assert code == 200, code
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"{name} is not in /metrics")


def client_hello():
    """The bytes of a real TLS ClientHello (python's ssl, ALPN dot)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_context().wrap_bio(incoming, outgoing,
                                 server_hostname="dns.anchord.test")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def rss_kib(pid, field="VmRSS"):
    """A KiB figure of /proc/PID/status: VmRSS (resident), VmData (the
    heap and other private mappings, touched or not)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no " + field)


# ------------------------------------------------------------------ 1. garbage

def junk(rng, n):
    """n random bytes whose first is no TLS record type (20..24), as a port
    scanner's or a confused client's would be; such a record header fails
    the handshake at once instead of waiting for more. Not 0x80..0xbf
    either: that reads as an SSLv2-compatible record header announcing up
    to 32 KB, which GnuTLS rightly waits for; the handshake timeout ends
    those (the slowloris tests)."""
    first = rng.choice([b for b in range(256)
                        if not 20 <= b <= 24 and not 0x80 <= b <= 0xbf])
    return bytes([first]) + rng.randbytes(n - 1)


@pytest.mark.parametrize("listener", ["dot", "https"])
def test_garbage_instead_of_a_client_hello(anchord, listener):
    # The handshake deadline is long: only the garbage itself can close.
    a = anchord(config_extra="tls: { handshake-timeout: 60s }")
    port = a.dot_port if listener == "dot" else a.https_port
    failures = f'anchord_tls_handshake_failures_total{{kind="{listener}"}}'
    before = metric(a, failures)
    rng = random.Random(1)
    question = dns.message.make_query("www." + ZONE, "A").to_wire()
    payloads = [junk(rng, rng.randint(5, 4096)) for _ in range(100)] + [
        struct.pack("!H", len(question)) + question,    # plain DNS
        b"GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n",  # plain HTTP
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]            # cleartext h2
    socks = []

    def send_garbage(stop, result):
        for p in payloads:
            s = connect_from(port)
            socks.append(s)
            s.sendall(p)
            time.sleep(0.01)    # spread over the good clients' queries

    with attack(send_garbage):
        assert_good_clients_answered(a)
    _, still_open = wait_closed(socks, DEADLINE)
    assert still_open == 0
    assert metric(a, failures) - before >= len(payloads)
    close_all(socks)
    assert_good_clients_answered(a)


@pytest.mark.parametrize("alpn", ["dot", "h2", "http/1.1"])
def test_garbage_after_the_handshake(anchord, alpn):
    """Raw bytes under TLS (no valid record) and, over HTTP, encrypted
    garbage (no HTTP/2 preface, no HTTP/1.1 request line) each end the
    connection at once: the idle timeout is far away."""
    a = anchord(server_extra="  tcp-idle-timeout: 60s")
    port = a.dot_port if alpn == "dot" else a.https_port
    rng = random.Random(2)
    raw, encrypted = [], []

    def send_garbage(stop, result):
        for i in range(40):
            s = tls_from(port, alpn, ca=a.ca)
            assert s.selected_alpn_protocol() == alpn
            if alpn == "dot" or i % 2 == 0:
                # Beneath TLS, on the same TCP connection.
                os.write(s.fileno(), junk(rng, rng.randint(5, 4096)))
                raw.append(s)
            else:
                # 30 KB without an end of header: more than the HTTP/1.1
                # header limit, and no HTTP/2 client preface.
                s.sendall(rng.randbytes(30000).replace(b"\r\n", b"xx"))
                encrypted.append(s)

    with attack(send_garbage):
        assert_good_clients_answered(a)
    _, still_open = wait_closed(raw, DEADLINE)
    assert still_open == 0
    got, still_open = wait_closed(encrypted, DEADLINE)
    assert still_open == 0
    if alpn == "http/1.1":      # refused with a status, then closed
        assert all(r.startswith(b"HTTP/1.1 431 ") for r in got.values()), got
    close_all(raw + encrypted)
    assert_good_clients_answered(a)


# ---------------------------------------------------------------- 2. slowloris

# Slow connections at once, and the handshake or idle timeout that ends
# them; under a checker fewer, with more time, so that all of them are
# open before the first one's timeout.
N_SLOW = 50 if WRAPPER else 200
STALL = 15 if WRAPPER else 3


def test_half_a_client_hello_is_closed_by_the_handshake_timeout(anchord):
    a = anchord(config_extra="tls: { handshake-timeout: %ds }" % STALL,
                server_extra="  tcp-idle-timeout: 60s")
    half = client_hello()
    half = half[:len(half) // 2]
    socks = []

    def stall(stop, result):
        for port in (a.dot_port, a.https_port):
            for _ in range(N_SLOW):
                s = connect_from(port)
                s.sendall(half)
                socks.append(s)
        result["opened"] = time.monotonic()

    with attack(stall) as result:
        assert_good_clients_answered(a)
    assert metric(a, 'anchord_connections{kind="dot"}') >= N_SLOW
    _, still_open = wait_closed(socks, STALL + DEADLINE + 1)
    assert still_open == 0
    assert time.monotonic() - result["opened"] < STALL + DEADLINE + 1
    close_all(socks)
    assert_good_clients_answered(a)


def test_slowloris_filling_the_listener_does_not_lock_clients_out(
        nsd, make_anchord):
    """More stalled handshakes than the DoT listener takes, with a long
    handshake timeout: each new client makes room by closing the
    longest-quiet connection, so a good client is still served."""
    port, dot_port = free_port(), free_port()
    a = make_anchord([upstream(nsd.port)], port=port, https=True,
                     listen=[f"{{ address: {LOCALHOST}, port: {port} }}",
                             f"{{ address: {LOCALHOST}, port: {dot_port}, "
                             "kind: dot, max-connections: 100 }"],
                     config_extra="tls: { handshake-timeout: 60s }")
    a.dot_port = dot_port
    half = client_hello()
    half = half[:len(half) // 2]
    socks = []

    def stall(stop, result):
        for i in range(150):
            s = connect_from(dot_port, source=f"127.0.0.{2 + i % 3}")
            s.sendall(half)
            socks.append(s)

    with attack(stall):
        # Stalled, not a flood of new connections: those would also push
        # out a good client's handshake, which is no better than refusing
        # it. The good clients come once the listener is full.
        assert wait_until(lambda: len(socks) == 150, timeout=10 * SLOW)
        for _ in range(3):
            assert_good_clients_answered(a)
    assert metric(a, 'anchord_connections{kind="dot"}') <= 100
    assert metric(a, 'anchord_connections{kind="dot"}') >= 90
    # the oldest ones were closed to make room, the newest are still open
    _, still_open = wait_closed(socks[:40], DEADLINE)
    assert still_open == 0
    _, still_open = wait_closed(socks[-20:], 0.5)
    assert still_open == 20
    close_all(socks)
    assert_good_clients_answered(a)


def test_a_partial_length_prefix_is_closed_by_the_idle_timeout(anchord):
    """One byte of the two-byte length, then nothing: plain TCP and DoT."""
    a = anchord(server_extra="  tcp-idle-timeout: %ds" % STALL)
    socks = []

    def stall(stop, result):
        for _ in range(N_SLOW):
            s = connect_from(a.port)
            s.sendall(b"\x00")
            socks.append(s)
        for _ in range(N_SLOW):
            s = tls_from(a.dot_port, "dot")
            s.sendall(b"\x00")
            socks.append(s)
        result["opened"] = time.monotonic()

    with attack(stall):
        assert_good_clients_answered(a)
    assert metric(a, 'anchord_connections{kind="tcp"}') >= N_SLOW
    assert metric(a, 'anchord_connections{kind="dot"}') >= N_SLOW
    _, still_open = wait_closed(socks, STALL + DEADLINE + 1)
    assert still_open == 0
    close_all(socks)
    assert_good_clients_answered(a)


def test_http1_header_one_byte_per_second(anchord):
    """Slowloris proper: 200 TLS connections trickle an HTTP/1.1 request
    header a byte a second. Bytes that complete no request do not reset
    the idle timer, so each connection ends within the idle timeout."""
    a = anchord(server_extra="  tcp-idle-timeout: %ds" % STALL)
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    request = (f"GET /dns-query?dns={b64(wire)} HTTP/1.1\r\n"
               "Host: dns.anchord.test\r\nAccept: */*\r\n\r\n").encode()
    socks = []
    closed_after = {}

    def trickle(stop, result):
        opened = {}
        for i in range(N_SLOW):
            socks.append(tls_from(a.https_port, "http/1.1"))
            opened[i] = time.monotonic()
        offset = 0
        while not stop.is_set() and len(closed_after) < len(socks):
            for i, s in enumerate(socks):
                if i in closed_after:
                    continue
                try:
                    s.settimeout(1)
                    s.sendall(request[offset:offset + 1])
                except OSError:
                    closed_after[i] = time.monotonic() - opened[i]
                    continue
                if drain(s)[1]:
                    closed_after[i] = time.monotonic() - opened[i]
            offset += 1
            assert offset < len(request), "the whole header got through"
            stop.wait(1)

    with attack(trickle):
        time.sleep(1)
        assert_good_clients_answered(a)
        assert wait_until(lambda: len(closed_after) == N_SLOW,
                          timeout=STALL + DEADLINE + 4)
    assert max(closed_after.values()) < STALL + DEADLINE + 2, closed_after
    close_all(socks)
    assert_good_clients_answered(a)


# -------------------------------------------------------------- 3. 10,000 idle

N_IDLE = 10000
PER_SOURCE = 200                # under the default per-client cap of 256


@pytest.fixture
def many_descriptors():
    """This process needs a descriptor per connection; anchord, started
    with the low soft limit a login shell has, must raise its own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < N_IDLE + 1000:
        pytest.skip(f"the hard descriptor limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def nofile_soft_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return line.split()[3]
    raise AssertionError("no Max open files")


@pytest.mark.skipif(bool(WRAPPER), reason="10,000 connections under "
                    "valgrind take minutes")
def test_ten_thousand_idle_connections(nsd, make_anchord, many_descriptors):
    port = free_port()
    a = make_anchord([upstream(nsd.port)], port=port, dot=True, https=True,
                     listen=[f"{{ address: {LOCALHOST}, port: {port}, "
                             f"max-connections: {N_IDLE + 100} }}"],
                     server_extra="  tcp-idle-timeout: 120s")
    hard = many_descriptors
    assert nofile_soft_limit(a.proc.pid) == str(hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rss_before = rss_kib(a.proc.pid)
    socks = []
    try:
        for i in range(N_IDLE):
            source = f"127.0.{2 + i // PER_SOURCE // 250}." \
                     f"{2 + i // PER_SOURCE % 250}"
            socks.append(connect_from(port, source))
        # anchord has accepted them all and evicted none
        assert wait_until(lambda: metric(
            a, 'anchord_connections{kind="tcp"}') >= N_IDLE, timeout=20)
        rss = rss_kib(a.proc.pid)
        print(f"\nanchord VmRSS: {rss_before} KiB, with {N_IDLE} idle "
              f"connections {rss} KiB")
        assert rss < 1024 * 1024
        assert_good_clients_answered(a)
        start = time.monotonic()
        assert query("www." + ZONE, port=port, tcp=True,
                     timeout=DEADLINE).answer
        assert time.monotonic() - start < DEADLINE
        # the oldest of them still works
        w = dns.message.make_query("local.anchord.test", "A").to_wire()
        socks[0].settimeout(DEADLINE)
        assert dns.message.from_wire(stream_exchange(socks[0], w)).answer
        assert a.alive()
    finally:
        close_all(socks)
    assert wait_until(lambda: metric(
        a, 'anchord_connections{kind="tcp"}') == 0, timeout=20)


N_PARTIAL = 1000


@pytest.mark.skipif(bool(WRAPPER), reason="RSS under valgrind is "
                    "valgrind's")
def test_partial_messages_cost_what_arrived_within_a_budget(
        nsd, make_anchord, many_descriptors):
    """A length prefix promising 65535 bytes and one byte of message, on
    1,000 connections: the server holds what arrived, not what was
    promised. Then 60,000 bytes more on each: the listener's budget for
    partial messages (32 MiB per worker) closes the connections that would
    pass it, and good clients are still answered."""
    port = free_port()
    a = make_anchord([upstream(nsd.port)], port=port, dot=True, https=True,
                     listen=[f"{{ address: {LOCALHOST}, port: {port}, "
                             f"max-connections: {N_PARTIAL + 100} }}"],
                     server_extra="  tcp-idle-timeout: 120s")
    resource.setrlimit(resource.RLIMIT_NOFILE, (many_descriptors,
                                                many_descriptors))
    rss_before = rss_kib(a.proc.pid)
    data_before = rss_kib(a.proc.pid, "VmData")
    socks = []
    try:
        for i in range(N_PARTIAL):
            s = connect_from(port, f"127.0.3.{2 + i // PER_SOURCE}")
            s.sendall(b"\xff\xff\x00")
            socks.append(s)
        assert wait_until(lambda: metric(
            a, 'anchord_connections{kind="tcp"}') >= N_PARTIAL, timeout=20)
        time.sleep(0.5 * SLOW)
        promised = rss_kib(a.proc.pid, "VmData") - data_before
        print(f"\n{N_PARTIAL} promised messages: +{promised} KiB of heap")
        assert promised < 16 * 1024     # 64 MiB if the promise were kept
        for s in socks:
            try:
                s.sendall(b"x" * 60000)
            except OSError:
                pass                    # closed over the budget already
        received, still_open = wait_closed(socks, 2 * SLOW)
        held = rss_kib(a.proc.pid) - rss_before
        print(f"60,000 bytes more on each: +{held} KiB, {still_open} "
              f"connections left")
        assert 400 <= still_open <= N_PARTIAL - 400, still_open
        assert held < 48 * 1024
        assert_good_clients_answered(a)
        assert query("www." + ZONE, port=port, tcp=True,
                     timeout=DEADLINE).answer
        assert a.alive()
    finally:
        close_all(socks)


# ------------------------------------------------------------ 4. HTTP/2 floods

def h2_connect(a, source=ATTACKER):
    s = tls_from(a.https_port, "h2", source=source, ca=a.ca)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    return s, conn


def h2_outcome(s, conn, timeout):
    """How the server ended an HTTP/2 connection: ('goaway', code),
    ('closed', None), or ('open', None) when it did neither in time.
    Also collects response events."""
    s.settimeout(0.2)
    end = time.monotonic() + timeout
    goaway = None
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except OSError:
            return ("goaway", goaway) if goaway is not None else \
                ("closed", None)
        if not data:
            return ("goaway", goaway) if goaway is not None else \
                ("closed", None)
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            continue
        for e in events:
            if isinstance(e, h2.events.ConnectionTerminated):
                goaway = e.error_code
    return ("goaway", goaway) if goaway is not None else ("open", None)


def rapid_reset(conn):
    wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    for _ in range(3000):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                (":authority", "dns.anchord.test"),
                                (":path", "/dns-query?dns=" + b64(wire))],
                          end_stream=True)
        conn.reset_stream(sid)


def settings_flood(conn):
    for _ in range(3000):
        conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})


def ping_flood(conn):
    for i in range(3000):
        conn.ping(struct.pack("!Q", i))


@pytest.mark.parametrize("flood", [rapid_reset, settings_flood, ping_flood],
                         ids=["rapid-reset", "settings", "ping"])
def test_http2_floods(anchord, flood):
    a = anchord()
    before = metric(a, "anchord_http2_abuse_total")

    def flood_again_and_again(stop, result):
        outcomes = result.setdefault("outcomes", [])
        while not stop.is_set() or not outcomes:
            s, conn = h2_connect(a)
            flood(conn)
            try:
                s.sendall(conn.data_to_send())
            except OSError:
                pass
            outcomes.append(h2_outcome(s, conn, 5 * SLOW))
            s.close()

    with attack(flood_again_and_again) as result:
        time.sleep(0.3)
        assert_good_clients_answered(a)
        # a normal DoH request by POST, meanwhile
        wire = dns.message.make_query("local.anchord.test", "A").to_wire()
        code, body = curl(a, "/dns-query", "--http2", "-H",
                          "content-type: application/dns-message",
                          "--data-binary", "@-", data=wire)
        assert code == 200 and dns.message.from_wire(body).answer
    outcomes = result["outcomes"]
    assert all(kind != "open" for kind, _ in outcomes), outcomes
    # GOAWAY says why: ENHANCE_YOUR_CALM for floods (0xb), or the error
    # nghttp2 uses for too many resets
    assert any(kind == "goaway" for kind, _ in outcomes), outcomes
    assert metric(a, "anchord_http2_abuse_total") - before >= len(outcomes)
    assert_good_clients_answered(a)


# ----------------------------------------------------------------- 5. oversize

def oversize_messages(rng, count):
    """DNS messages of the largest size a length prefix allows: a query
    header with one question, then 65 KB of random bytes."""
    hdr = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    return [struct.pack("!H", 65535) + hdr + rng.randbytes(65535 - 12)
            for _ in range(count)]


@pytest.mark.parametrize("listener", ["tcp", "dot"])
def test_largest_length_prefix_with_a_huge_body(anchord, listener):
    """16 messages of 65,535 bytes (a megabyte) on one connection: each is
    refused (FORMERR or no answer), the framing holds, and a good query
    that follows on the same connection is answered."""
    a = anchord()
    rng = random.Random(5)
    messages = oversize_messages(rng, 16)
    good = dns.message.make_query("local.anchord.test", "A").to_wire()

    def send_huge(stop, result):
        s = connect_from(a.port) if listener == "tcp" else \
            tls_from(a.dot_port, "dot")
        s.settimeout(10 * SLOW)
        s.sendall(b"".join(messages))
        s.sendall(struct.pack("!H", len(good)) + good)
        answers = []
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(
                    "!H", buf[:2])[0]:
                (n,) = struct.unpack("!H", buf[:2])
                answers.append(dns.message.from_wire(
                    buf[2:2 + n], question_only=True))
                buf = buf[2 + n:]
            if answers and answers[-1].id == dns.message.from_wire(good).id:
                break
        result["answers"] = answers
        s.close()

    with attack(send_huge) as result:
        assert_good_clients_answered(a)
    answers = result["answers"]
    assert answers and answers[-1].id == dns.message.from_wire(good).id
    assert all(m.rcode() == dns.rcode.FORMERR for m in answers[:-1])
    assert answers[-1].rcode() == dns.rcode.NOERROR
    assert_good_clients_answered(a)


def http1_exchange(a, raw, source=ATTACKER):
    """Sends raw over HTTP/1.1 (TLS); returns what came back until the
    server closed."""
    s = tls_from(a.https_port, "http/1.1", source=source)
    try:
        s.sendall(raw)
    except OSError:
        pass
    got, still_open = wait_closed([s], DEADLINE)
    s.close()
    assert still_open == 0, got[0][:200]
    return got[0]


def test_http1_oversize_requests(anchord):
    a = anchord(server_extra="  tcp-idle-timeout: %ds" % STALL)
    post = b"POST /dns-query HTTP/1.1\r\nHost: dns.anchord.test\r\n" \
           b"Content-Type: application/dns-message\r\n"
    query_wire = dns.message.make_query("www." + ZONE, "A").to_wire()
    cases = [
        # a body larger than any DNS message: refused before it is read
        (post + b"Content-Length: 100000\r\n\r\n" + b"\0" * 100000, b"413"),
        # Content-Length says 20, a megabyte follows: the 20 bytes are
        # answered (a DNS FORMERR in a 200, RFC 8484 4.2.1), the rest is a
        # request line that never ends
        (post + b"Content-Length: 20\r\n\r\n" + b"A" * 1000000, b"431"),
        # a 100 KB header line
        (b"GET /dns-query?dns=" + b64(query_wire).encode() +
         b" HTTP/1.1\r\nHost: dns.anchord.test\r\nX-Big: " +
         b"a" * 100000 + b"\r\n\r\n", b"431"),
        # a 100 KB target
        (b"GET /dns-query?dns=" + b"A" * 100000 +
         b" HTTP/1.1\r\nHost: dns.anchord.test\r\n\r\n", b"431"),
    ]
    for raw, status in cases:
        got = http1_exchange(a, raw)
        last = got[got.rfind(b"HTTP/1.1 "):]
        assert last.startswith(b"HTTP/1.1 " + status + b" "), got[:300]
        assert b"connection: close" in last.lower()
        assert got.count(b"HTTP/1.1 ") == (2 if b"Length: 20\r" in raw
                                           else 1), got[:300]
    # Content-Length promises 60,000 bytes, 100 come, then nothing: the
    # idle timeout ends it (no request was ever complete)
    s = tls_from(a.https_port, "http/1.1")
    s.sendall(post + b"Content-Length: 60000\r\n\r\n" + b"\0" * 100)
    got, still_open = wait_closed([s], STALL + DEADLINE + 1)
    assert still_open == 0
    s.close()
    assert_good_clients_answered(a)


def h2_request(a, headers, body=None, end_stream=True):
    """One HTTP/2 request by hand; returns ('status', code),
    ('reset', code), ('goaway', code) or ('closed', None)."""
    s, conn = h2_connect(a)
    try:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers, end_stream=end_stream and not body)
        if body:
            # the server's window is 64 KB: past it, only a server that
            # refuses early gets everything; send what the window allows
            n = min(len(body), conn.local_flow_control_window(sid))
            for off in range(0, n, 16384):
                last = off + 16384 >= n
                conn.send_data(sid, body[off:min(n, off + 16384)],
                               end_stream=end_stream and last and
                               n == len(body))
        try:
            s.sendall(conn.data_to_send())
        except OSError:         # closed while the request was going out
            return ("closed", None)
        s.settimeout(DEADLINE)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                data = s.recv(65536)
            except OSError:
                return ("closed", None)
            if not data:
                return ("closed", None)
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                return ("closed", None)
            for e in events:
                if isinstance(e, h2.events.ResponseReceived) and \
                        e.stream_id == sid:
                    return ("status", int(dict(e.headers)[":status"]))
                if isinstance(e, h2.events.StreamReset) and \
                        e.stream_id == sid:
                    return ("reset", e.error_code)
                if isinstance(e, h2.events.ConnectionTerminated):
                    return ("goaway", e.error_code)
            try:
                s.sendall(conn.data_to_send())      # ACKs, window updates
            except OSError:
                return ("closed", None)
        return ("nothing", None)
    finally:
        s.close()


def test_http2_oversize_requests(anchord):
    a = anchord()
    base = [(":method", "POST"), (":scheme", "https"),
            (":authority", "dns.anchord.test"), (":path", "/dns-query"),
            ("content-type", "application/dns-message")]
    # a 100 KB body with no length announced, by curl
    code, _ = curl(a, "/dns-query", "--http2", "-H",
                   "content-type: application/dns-message",
                   "--data-binary", "@" + write_tmp(a, b"\0" * 100000))
    assert code == 413
    # a Content-Length above any DNS message: refused before the body
    assert h2_request(a, base + [("content-length", "100000")],
                      body=b"\0" * 60000, end_stream=False) == \
        ("status", 413)
    # Content-Length says 10, 60 KB come: the stream is reset
    # (RFC 9113 8.1.1, PROTOCOL_ERROR) or the request refused
    outcome = h2_request(a, base + [("content-length", "10")],
                         body=b"\0" * 60000)
    assert outcome in (("reset", 1), ("status", 400), ("status", 413)), \
        outcome
    # a huge header list: 2,000 fields, 130 KB
    many = base + [(f"x-pad-{i}", "v" * 60) for i in range(2000)]
    assert h2_request(a, many, body=b"\0" * 20) == ("status", 431)
    # one 100 KB field: more than nghttp2's HPACK decoder takes; the
    # connection ends (COMPRESSION_ERROR)
    big = base + [("x-big", "b" * 100000)]
    outcome = h2_request(a, big, body=b"\0" * 20)
    assert outcome in (("status", 431), ("goaway", 9), ("closed", None)), \
        outcome
    assert_good_clients_answered(a)


def write_tmp(a, data):
    path = os.path.join(a.dir, "body.bin")
    with open(path, "wb") as f:
        f.write(data)
    return path


# ------------------------------------------------------------ 6. never reading

@pytest.mark.parametrize("listener", ["tcp", "dot"])
def test_a_client_that_never_reads_is_closed(anchord, listener):
    """3,000 queries with 2 KB answers (6 MB) on one connection whose
    client reads nothing: once the kernel's buffers are full, answers
    queue in anchord up to a bound and then the connection is closed,
    instead of memory growing for as long as the client sends."""
    a = anchord()
    queries = b""
    for i in range(3000):
        w = dns.message.make_query("big." + ZONE, "TXT", id=i).to_wire()
        queries += struct.pack("!H", len(w)) + w
    one = len(query("big." + ZONE, "TXT", port=a.port, tcp=True).to_wire())
    socks = []

    def send_and_never_read(stop, result):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((ATTACKER, 0))
        s.connect((LOCALHOST, a.port if listener == "tcp" else a.dot_port))
        if listener == "dot":
            s = tls_context().wrap_socket(s, server_hostname="x")
        socks.append(s)
        s.sendall(queries)
        stop.wait(10 * SLOW)

    with attack(send_and_never_read):
        assert wait_until(lambda: socks, timeout=DEADLINE)
        assert_good_clients_answered(a)
        time.sleep(1)
        got, still_open = wait_closed(socks, DEADLINE)
    assert still_open == 0
    assert len(got[0]) < 3000 * one // 2
    close_all(socks)
    assert_good_clients_answered(a)
