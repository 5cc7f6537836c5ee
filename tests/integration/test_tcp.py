"""DNS over TCP as RFC 7766 wants it: pipelining, out-of-order answers,
idle timeout, connection limits."""
import socket
import struct
import time

import dns.message
import dns.rcode

from harness import LOCALHOST, ZONE, query, tcp_exchange, upstream


def wires(names, rdtype="A"):
    out = []
    for i, n in enumerate(names):
        q = dns.message.make_query(n, rdtype)
        q.id = 1000 + i
        out.append(q.to_wire())
    return out


def test_pipelining_many_queries_one_connection(resolver):
    names = [f"n{i}.wild.{ZONE}" for i in range(40)] + \
            ["local.anchord.test"] * 5
    answers = tcp_exchange(resolver.port, wires(names))
    assert len(answers) == len(names)
    got = {}
    for w in answers:
        m = dns.message.from_wire(w)
        got[m.id] = m
    assert sorted(got) == [1000 + i for i in range(len(names))]
    for i, n in enumerate(names):
        m = got[1000 + i]
        assert str(m.question[0].name) == n.rstrip(".") + "."
        assert m.rcode() == dns.rcode.NOERROR and m.answer


def test_answers_come_out_of_order(nsd, make_anchord, make_relay):
    # The first query waits 0.5 s upstream; the local ones behind it must
    # not wait for it.
    relay = make_relay(nsd.port, delay=0.5)
    a = make_anchord([upstream(relay.port)])
    names = ["www." + ZONE] + ["local.anchord.test"] * 3
    answers = tcp_exchange(a.port, wires(names))
    order = [dns.message.from_wire(w).id for w in answers]
    assert sorted(order) == [1000, 1001, 1002, 1003]
    assert order[-1] == 1000, order


def test_idle_connection_is_closed(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)],
                     server_extra="  tcp-idle-timeout: 1s")
    s = socket.create_connection((LOCALHOST, a.port), timeout=5)
    start = time.monotonic()
    assert s.recv(10) == b""        # the server closed it
    assert 0.8 < time.monotonic() - start < 4
    s.close()


def test_partial_message_does_not_hold_the_slot(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)],
                     server_extra="  tcp-idle-timeout: 1s")
    s = socket.create_connection((LOCALHOST, a.port), timeout=5)
    s.sendall(b"\x00\x30\x12")      # a length, then one byte of 48
    start = time.monotonic()
    for _ in range(3):              # trickling does not reset the timer
        time.sleep(0.3)
        try:
            s.sendall(b"\x00")
        except OSError:
            break
    try:
        data = s.recv(10)
    except ConnectionResetError:
        data = b""
    assert data == b""
    assert time.monotonic() - start < 4
    s.close()


def test_keepalive_option_advertises_the_timeout(resolver):
    import dns.edns
    q = dns.message.make_query("local.anchord.test", "A", use_edns=0,
                               options=[dns.edns.GenericOption(11, b"")])
    r = dns.query.tcp(q, LOCALHOST, port=resolver.port, timeout=3)
    ka = [o for o in r.options if o.otype == 11]
    assert ka and ka[0].data == struct.pack("!H", 100)   # 10 s in 100 ms
    # never over UDP (RFC 7828 3.2.1)
    r = dns.query.udp(q, LOCALHOST, port=resolver.port, timeout=3)
    assert not [o for o in r.options if o.otype == 11]


def test_per_client_connection_limit(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)],
                     server_extra="  max-connections-per-client: 3")
    conns = [socket.create_connection((LOCALHOST, a.port), timeout=3)
             for _ in range(3)]
    time.sleep(0.2)
    try:    # refused: reset at once, possibly before connect() returns
        extra = socket.create_connection((LOCALHOST, a.port), timeout=3)
        try:
            assert extra.recv(10) == b""
        except ConnectionResetError:
            pass
        extra.close()
    except ConnectionResetError:
        pass
    # the admitted ones still work
    w = wires(["local.anchord.test"])[0]
    conns[0].sendall(struct.pack("!H", len(w)) + w)
    assert len(conns[0].recv(4096)) > 12
    for c in conns:
        c.close()
    time.sleep(0.2)
    # and their slots are free again
    assert query("local.anchord.test", port=a.port, tcp=True).answer


def test_half_closed_client_still_gets_answers(nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port, delay=0.3)
    a = make_anchord([upstream(relay.port)])
    s = socket.create_connection((LOCALHOST, a.port), timeout=5)
    w = wires(["www." + ZONE])[0]
    s.sendall(struct.pack("!H", len(w)) + w)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    m = dns.message.from_wire(data[2:])
    assert m.answer[0][0].to_text() == "127.0.0.10"


def test_many_idle_connections_and_a_working_client(resolver):
    conns = []
    for _ in range(50):
        conns.append(socket.create_connection((LOCALHOST, resolver.port),
                                              timeout=3))
    r = query("www." + ZONE, port=resolver.port, tcp=True)
    assert r.answer
    for c in conns:
        c.close()


def test_full_listener_evicts_the_longest_idle_connection(nsd, make_anchord):
    from harness import free_port
    port = free_port()
    a = make_anchord([upstream(nsd.port)], port=port,
                     listen=[f"{{ address: 127.0.0.1, port: {port}, "
                             "max-connections: 5 }"])
    idle = [socket.create_connection((LOCALHOST, port), timeout=3)
            for _ in range(5)]
    time.sleep(0.2)
    # a sixth client is served: the oldest idle connection made room
    assert query("www." + ZONE, port=port, tcp=True).answer
    try:
        assert idle[0].recv(10) == b""
    except ConnectionResetError:
        pass
    # the newer idle ones were left alone
    w = wires(["local.anchord.test"])[0]
    idle[4].sendall(struct.pack("!H", len(w)) + w)
    assert len(idle[4].recv(4096)) > 12
    for s in idle:
        s.close()
