"""anchorctl dnr: the RFC 9463 options it prints decode, with an
independent decoder written from the RFC, to this resolver's name,
addresses, ALPN ids, ports and DoH path. Nothing is started and nothing
is sent: anchorctl only reads the configuration."""
import ipaddress
import os
import struct
import subprocess

import pytest

from harness import ANCHORCTL

CONFIG = """server: { name: dns.corp.anchord.test, state-dir: %s }
listen:
  - { address: 127.0.0.1, port: 8053, kind: dns }
  - { address: 127.0.0.1, port: 8853, kind: dot }
  - { address: "::1", port: 8853, kind: dot }
  - { address: 127.0.0.1, port: 8443, kind: https }
tls: { addresses: [ 127.0.53.1, 127.0.53.2, "2001:db8::53" ] }
doh: { path: /q }
upstream: [ { address: 127.0.0.1, port: 5300 } ]
"""

ADN = "dns.corp.anchord.test."
DOT = {"alpn": ["dot"], "port": 8853}
DOH = {"alpn": ["h2", "http/1.1"], "port": 8443, "dohpath": "/q{?dns}"}


def name_from_wire(b):
    labels, i = [], 0
    while b[i]:
        labels.append(b[i + 1:i + 1 + b[i]].decode())
        i += 1 + b[i]
    assert i + 1 == len(b), "ADN must end with the root label"
    return ".".join(labels) + "."


def svcparams(b):
    """SVCB wire format (RFC 9460 2.2): keys ascending, no duplicates."""
    out, last, i = {}, -1, 0
    while i < len(b):
        key, length = struct.unpack("!HH", b[i:i + 4])
        value = b[i + 4:i + 4 + length]
        assert len(value) == length and key > last
        last, i = key, i + 4 + length
        if key == 1:
            ids, j = [], 0
            while j < len(value):
                ids.append(value[j + 1:j + 1 + value[j]].decode())
                j += 1 + value[j]
            out["alpn"] = ids
        elif key == 3:
            out["port"] = struct.unpack("!H", value)[0]
        elif key == 7:
            out["dohpath"] = value.decode()
        else:
            raise AssertionError(f"unexpected SvcParamKey {key}")
    return out


def addresses(b, size):
    assert len(b) % size == 0
    return [str(ipaddress.ip_address(b[i:i + size]))
            for i in range(0, len(b), size)]


def decode_v4(data):
    """OPTION_V4_DNR data: instances with a 2-octet length, 1-octet ADN
    and address lengths (RFC 9463 5.1)."""
    out, i = [], 0
    while i < len(data):
        (length,) = struct.unpack("!H", data[i:i + 2])
        inst, i = data[i + 2:i + 2 + length], i + 2 + length
        assert len(inst) == length
        prio, adn_len = struct.unpack("!HB", inst[:3])
        adn = name_from_wire(inst[3:3 + adn_len])
        j = 3 + adn_len
        addr_len = inst[j]
        addrs = addresses(inst[j + 1:j + 1 + addr_len], 4)
        out.append((prio, adn, addrs, svcparams(inst[j + 1 + addr_len:])))
    return out


def decode_v6(data):
    """OPTION_V6_DNR data (RFC 9463 4.1)."""
    prio, adn_len = struct.unpack("!HH", data[:4])
    adn = name_from_wire(data[4:4 + adn_len])
    j = 4 + adn_len
    (addr_len,) = struct.unpack("!H", data[j:j + 2])
    addrs = addresses(data[j + 2:j + 2 + addr_len], 16)
    return prio, adn, addrs, svcparams(data[j + 2 + addr_len:])


def decode_ra(opt):
    """A whole RA DNR option (RFC 9463 6.1)."""
    typ, units, prio, lifetime, adn_len = struct.unpack("!BBHIH", opt[:10])
    assert typ == 144 and units * 8 == len(opt)
    adn = name_from_wire(opt[10:10 + adn_len])
    j = 10 + adn_len
    (addr_len,) = struct.unpack("!H", opt[j:j + 2])
    addrs = addresses(opt[j + 2:j + 2 + addr_len], 16)
    j += 2 + addr_len
    (svc_len,) = struct.unpack("!H", opt[j:j + 2])
    params = svcparams(opt[j + 2:j + 2 + svc_len])
    assert set(opt[j + 2 + svc_len:]) <= {0} and len(opt) - (j + 2 + svc_len) < 8
    return prio, lifetime, adn, addrs, params


@pytest.fixture
def dnr_output(tmp_path):
    conf = tmp_path / "anchord.conf"
    conf.write_text(CONFIG % (tmp_path / "state"))
    out = subprocess.run([ANCHORCTL, "-c", str(conf), "dnr", "--lifetime",
                          "600"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = {}
    for line in out.stdout.splitlines():
        if ": " in line and not line.startswith(("#", "{")):
            label, hexdata = line.split(": ")
            lines.setdefault(label, []).append(bytes.fromhex(hexdata))
    return out.stdout, lines


def test_dhcpv4_option_162(dnr_output):
    _, lines = dnr_output
    [data] = lines["dhcpv4-162"]
    v4 = ["127.0.53.1", "127.0.53.2"]
    assert decode_v4(data) == [(2, ADN, v4, DOT), (1, ADN, v4, DOH)]


def test_dhcpv6_option_144(dnr_output):
    _, lines = dnr_output
    got = [decode_v6(d) for d in lines["dhcpv6-144"]]
    assert got == [(2, ADN, ["2001:db8::53"], DOT),
                   (1, ADN, ["2001:db8::53"], DOH)]


def test_ra_option_144(dnr_output):
    _, lines = dnr_output
    got = [decode_ra(o) for o in lines["ra-144"]]
    assert got == [(2, 600, ADN, ["2001:db8::53"], DOT),
                   (1, 600, ADN, ["2001:db8::53"], DOH)]


def test_kea_and_dnsmasq_snippets_carry_the_same_bytes(dnr_output):
    text, lines = dnr_output
    v4 = lines["dhcpv4-162"][0]
    assert f'"code": 162, "space": "dhcp4", "csv-format": false, ' \
           f'"data": "{v4.hex()}"' in text
    for v6 in lines["dhcpv6-144"]:
        assert f'"code": 144, "space": "dhcp6", "csv-format": false, ' \
               f'"data": "{v6.hex()}"' in text
        assert "dhcp-option=option6:144," + v6.hex(":") in text
    assert "dhcp-option=162," + v4.hex(":") in text


def test_no_tls_listener_is_an_error(tmp_path):
    conf = tmp_path / "anchord.conf"
    conf.write_text("listen: [ { address: 127.0.0.1, port: 8053 } ]\n"
                    "upstream: [ { address: 127.0.0.1, port: 5300 } ]\n")
    out = subprocess.run([ANCHORCTL, "-c", str(conf), "dnr"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "no DoT or HTTPS listener" in out.stderr
