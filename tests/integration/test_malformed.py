"""Junk in, FORMERR (or silence) out; the daemon never stops answering."""
import random
import socket
import struct

import dns.message
import dns.rcode

from harness import LOCALHOST, ZONE, query


def exchange(port, wire, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(wire, (LOCALHOST, port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def rcode_of(answer):
    return answer[3] & 0x0F


def header(qd=1, an=0, ns=0, ar=0, flags=0x0100, ident=0xBEEF):
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def test_formerr_on_malformed_queries(resolver):
    question = b"\x03www\x02up\x04test\x00\x00\x01\x00\x01"
    cases = {
        "no question": header(qd=0),
        "two questions": header(qd=2) + question + question,
        "truncated question": header() + question[:7],
        "compression loop": header() + b"\xc0\x0c\x00\x01\x00\x01",
        "label too long": header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
        "answer count in a query": header(an=1) + question,
        "additional count past the end": header(ar=3) + question,
        "trailing bytes": header() + question + b"\x00\x00",
        "bad OPT option length": header(ar=1) + question +
        b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x08\x00\x0c\x00\x20abcd",
    }
    for what, wire in cases.items():
        answer = exchange(resolver.port, wire)
        assert answer is not None, what
        assert answer[:2] == b"\xbe\xef", what
        assert answer[2] & 0x80, what
        assert rcode_of(answer) == dns.rcode.FORMERR, what
    # too short for a header, or a response: no answer at all
    assert exchange(resolver.port, b"\x12\x34\x01", timeout=0.3) is None
    assert exchange(resolver.port, header(flags=0x8100) + question,
                    timeout=0.3) is None
    assert query("www." + ZONE, port=resolver.port).answer


def test_random_datagrams_do_not_hurt(resolver):
    rng = random.Random(7)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(3000):
        n = rng.choice([0, 1, 5, 11, 12, 13, 17, 30, 64, 300, 1500, 4000])
        wire = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 3 == 0 and n >= 12:      # many look like queries
            wire = header(qd=rng.randint(0, 2), ar=rng.randint(0, 2)) + wire[12:]
        s.sendto(wire, (LOCALHOST, resolver.port))
    s.close()
    for tcp in (False, True):
        assert query("www." + ZONE, port=resolver.port, tcp=tcp).answer
    assert resolver.alive()


def test_junk_over_tcp(resolver):
    question = b"\x03www\x02up\x04test\x00\x00\x01\x00\x01"
    junk = header(qd=2) + question
    s = socket.create_connection((LOCALHOST, resolver.port), timeout=3)
    s.sendall(struct.pack("!H", len(junk)) + junk)
    data = s.recv(4096)
    assert rcode_of(data[2:]) == dns.rcode.FORMERR
    # the connection stays usable for a good query
    good = dns.message.make_query("www." + ZONE, "A").to_wire()
    s.sendall(struct.pack("!H", len(good)) + good)
    data = s.recv(4096)
    assert dns.message.from_wire(data[2:]).answer
    # a zero length prefix is a protocol error: the server closes
    s.sendall(b"\x00\x00")
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    s.close()
    rng = random.Random(11)
    for _ in range(50):
        s = socket.create_connection((LOCALHOST, resolver.port), timeout=3)
        s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600))))
        s.close()
    assert query("www." + ZONE, port=resolver.port, tcp=True).answer
