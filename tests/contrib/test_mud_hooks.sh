#!/bin/sh
# test_mud_hooks.sh - the DHCP hooks of contrib/mud-hooks call anchorctl as
# they should. A fake anchorctl, first in PATH, writes down its arguments
# (each in brackets, so that their boundaries show).
#
#   sh tests/contrib/test_mud_hooks.sh     (from anywhere; needs no root)
set -eu

top=${ANCHORD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
hooks=$top/contrib/mud-hooks
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

mkdir "$work/bin"
cat >"$work/bin/anchorctl" <<'FAKE'
#!/bin/sh
for a in "$@"; do printf '[%s]' "$a"; done >>"$CALLS"
echo >>"$CALLS"
exit "${FAKE_STATUS:-0}"
FAKE
chmod 755 "$work/bin/anchorctl"
CALLS=$work/calls
export CALLS

failures=0
n=0
check() {			# description expected-calls expected-status status
	n=$((n + 1))
	got=$(cat "$CALLS" 2>/dev/null || true)
	if [ "$got" = "$2" ] && [ "$4" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   calls:  ${got:-(none)}"
		echo "#   wanted: ${2:-(none)}"
		echo "#   status $4, wanted $3"
		failures=$((failures + 1))
	fi
	rm -f "$CALLS"
}

# dnsmasq: runs the hook with its own environment plus DNSMASQ_* variables.
dnsmasq() {			# url args...
	url=$1
	shift
	status=0
	if [ -n "$url" ]; then
		DNSMASQ_MUD_URL=$url PATH="$work/bin:$PATH" \
			"$hooks/dnsmasq-mud-hook" "$@" 2>"$work/stderr" || status=$?
	else
		PATH="$work/bin:$PATH" \
			"$hooks/dnsmasq-mud-hook" "$@" 2>"$work/stderr" || status=$?
	fi
}

mac=00:11:22:33:44:55
thermo=https://mud.example.com/thermostat.json

dnsmasq "$thermo" add $mac 10.20.0.5 thermo
check "add binds" "[mud][bind][--ip][10.20.0.5][--url][$thermo]" 0 $status

dnsmasq "$thermo" old $mac 10.20.0.5
check "old with a URL (renewal) binds" \
	"[mud][bind][--ip][10.20.0.5][--url][$thermo]" 0 $status

dnsmasq "" old $mac 10.20.0.5 thermo
check "old without a URL (lease file at start) leaves it alone" "" 0 $status

dnsmasq "" add $mac 10.20.0.6 laptop
check "add without a URL is no MUD device" "" 0 $status

dnsmasq "" del $mac 10.20.0.5 thermo
check "del unbinds" "[mud][unbind][--ip][10.20.0.5]" 0 $status

dnsmasq "https://mud.example.com/a b.json?x=1&y='2'" add $mac 10.20.0.5
check "add: a URL with a space is refused" "" 1 $status

dnsmasq "http://mud.example.com/thermostat.json" add $mac 10.20.0.5
check "add: an http URL is refused" "" 1 $status
grep -q "not an https URL" "$work/stderr" || {
	echo "not ok - the refusal is not logged"
	failures=$((failures + 1))
}

long=https://mud.example.com/$(printf '%0227d' 0).json
[ ${#long} -eq 256 ]
dnsmasq "$long" add $mac 10.20.0.5
check "add: a URL of 256 bytes is refused" "" 1 $status

max=https://mud.example.com/$(printf '%0226d' 0).json
[ ${#max} -eq 255 ]
dnsmasq "$max" add $mac 10.20.0.5
check "add: a URL of 255 bytes binds" \
	"[mud][bind][--ip][10.20.0.5][--url][$max]" 0 $status

query='https://mud.example.com/m.json?model=t1&rev=2#x'
dnsmasq "$query" add 00:01:00:01:2a:2b:2c:2d fd00::5
check "add (DHCPv6) keeps a query string whole" \
	"[mud][bind][--ip][fd00::5][--url][$query]" 0 $status

dnsmasq "$thermo" add $mac '--ip=1.2.3.4'
check "add: an address that is not one is refused" "" 1 $status

dnsmasq "" tftp 1234 10.20.0.5 /srv/tftp/boot
check "tftp is not ours" "" 0 $status

dnsmasq "" arp-add $mac 10.20.0.5
check "arp-add is not ours" "" 0 $status

FAKE_STATUS=3 dnsmasq "$thermo" add $mac 10.20.0.5
check "a failing anchorctl fails the hook" \
	"[mud][bind][--ip][10.20.0.5][--url][$thermo]" 3 $status

# Kea: no environment but its own variables (no PATH).
cat >"$work/map" <<MAP
# devices and their MUD URLs
$mac $thermo
01:aa:bb:cc:dd:ee:ff https://mud.example.com/plug.json
00:01:00:01:2a:2b:2c:2d https://mud.example.com/cam.json
00:11:22:33:44:99 http://mud.example.com/old.json
MAP

kea() {				# hook-point VAR=value...
	point=$1
	shift
	status=0
	env -i ANCHORCTL="$work/bin/anchorctl" ANCHORD_MUD_MAP="$work/map" \
		CALLS="$CALLS" "$@" /bin/sh "$hooks/kea-mud-hook" "$point" \
		2>"$work/stderr" || status=$?
}

kea leases4_committed LEASES4_SIZE=2 \
	LEASES4_AT0_ADDRESS=10.20.0.5 LEASES4_AT0_HWADDR=00:11:22:33:44:55 \
	LEASES4_AT1_ADDRESS=10.20.0.6 LEASES4_AT1_HWADDR=00:11:22:33:44:66 \
	DELETED_LEASES4_SIZE=1 DELETED_LEASES4_AT0_ADDRESS=10.20.0.7
check "kea leases4_committed binds mapped devices, unbinds deleted leases" \
	"[mud][bind][--ip][10.20.0.5][--url][$thermo]
[mud][unbind][--ip][10.20.0.7]" 0 $status

kea lease4_renew LEASE4_ADDRESS=10.20.0.8 LEASE4_HWADDR=00:11:22:33:44:77 \
	LEASE4_CLIENT_ID=01:AA:BB:CC:DD:EE:FF
check "kea lease4_renew finds a device by client id" \
	"[mud][bind][--ip][10.20.0.8][--url][https://mud.example.com/plug.json]" \
	0 $status

kea lease4_expire LEASE4_ADDRESS=10.20.0.5
check "kea lease4_expire unbinds" "[mud][unbind][--ip][10.20.0.5]" 0 $status

kea leases6_committed LEASES6_SIZE=2 \
	LEASES6_AT0_ADDRESS=fd00:ab8:1:: LEASES6_AT0_TYPE=IA_PD \
	LEASES6_AT0_DUID=00:01:00:01:2a:2b:2c:2d \
	LEASES6_AT1_ADDRESS=fd00:ab8::5 LEASES6_AT1_TYPE=IA_NA \
	LEASES6_AT1_DUID=00:01:00:01:2a:2b:2c:2d DELETED_LEASES6_SIZE=0
check "kea leases6_committed binds addresses, not prefixes" \
	"[mud][bind][--ip][fd00:ab8::5][--url][https://mud.example.com/cam.json]" \
	0 $status

kea lease4_renew LEASE4_ADDRESS=10.20.0.9 LEASE4_HWADDR=00:11:22:33:44:99
check "kea: a mapped http URL is refused" "" 1 $status

kea addr6_register ADDRESS6=fd00:ab8::9
check "kea addr6_register is not ours" "" 0 $status

if [ "$failures" -ne 0 ]; then
	echo "$failures of $n checks failed"
	exit 1
fi
echo "all $n checks passed"
