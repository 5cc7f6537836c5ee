#!/bin/sh
# install-deps.sh - install the Debian 12 packages anchord needs, if missing.
#
#   contrib/install-deps.sh build   libraries and tools to configure and build
#   contrib/install-deps.sh test    the above plus everything `make check` drives
#   contrib/install-deps.sh bench   the above plus the peers and load generators
#
# Only packages that are not installed yet are fetched, so a second run costs
# one dpkg query. Runs apt-get through sudo when not root.
set -eu

# automake is named although nothing uses Automake: autoreconf runs its
# aclocal to copy pkg-config's PKG_* macros into aclocal.m4, and apt-get
# below skips the recommends through which autoconf would bring it.

BUILD_PKGS="gcc make libc6-dev autoconf automake pkg-config
	libuv1-dev libgnutls28-dev libtasn1-6-dev libnghttp2-dev libldns-dev libsodium-dev
	libyaml-dev libjansson-dev libsqlite3-dev libcurl4-gnutls-dev
	libqrencode-dev libpng-dev libnftables-dev libcmocka-dev"
TEST_PKGS="nsd knot-dnsutils bind9-dnsutils ldnsutils gnutls-bin curl stubby
	python3 python3-pytest python3-pytest-timeout python3-dnspython python3-h2
	clang libclang-rt-14-dev valgrind iproute2 sqlite3 dnsperf nghttp2-client
	systemd man-db nftables openssl"
BENCH_PKGS="unbound knot-resolver dnsdist linux-perf"

case "${1:-build}" in
build) want="$BUILD_PKGS" ;;
test) want="$BUILD_PKGS $TEST_PKGS" ;;
bench) want="$BUILD_PKGS $TEST_PKGS $BENCH_PKGS" ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-deps: not root and no sudo; install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Services from these packages must not start on their own: the tests start
# what they need on ephemeral loopback ports and stop it by pid.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	created_policy=yes
fi
$SUDO apt-get update -q || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
[ -n "$created_policy" ] && $SUDO rm -f "$policy"
# Debian starts NSD and Unbound after installing them; stop them so that they
# hold no ports the tests or benchmarks want (a no-op without systemd).
for svc in nsd unbound dnsdist kresd@1; do
	$SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
	$SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
done
exit 0
