/*  anchord - net/socket.c: creating and binding listening sockets.
 *
 *  Sockets are made here rather than by libuv so that every option is set
 *  before bind: SO_REUSEPORT gives each worker its own socket and lets the
 *  kernel spread clients over them (as Knot Resolver does), IP_FREEBIND
 *  lets anchord start before an address is configured, and packet info
 *  lets a wildcard-bound UDP socket answer from the address it was asked.
 */
#include "net/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define UDP_RCVBUF (4 << 20)	/* absorb bursts between loop iterations */

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

static int configure_udp(int fd, int family)
{
	set_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);	/* best effort */
	if (family == AF_INET) {
		/* Never fragment answers: avoids fragmentation attacks
		 * (answers are capped at the EDNS size instead). */
		set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
		return set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
	}
	set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IP_PMTUDISC_OMIT);
	return set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
}

int net_bind_socket(const struct util_addr *addr, enum net_sock_kind kind,
		    int backlog)
{
	int family = addr->ss.ss_family;
	int type = (kind == NET_SOCK_UDP ? SOCK_DGRAM : SOCK_STREAM) |
		   SOCK_NONBLOCK | SOCK_CLOEXEC;
	int fd = socket(family, type, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0 ||
	    set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0)
		err = -errno;
	if (!err && family == AF_INET6 &&
	    set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) != 0)
		err = -errno;
	if (!err)
		set_int(fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			family == AF_INET ? IP_FREEBIND : IPV6_FREEBIND, 1);
	if (!err && kind == NET_SOCK_UDP && configure_udp(fd, family) != 0)
		err = -errno;
	if (!err && kind == NET_SOCK_TCP)
		set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!err && bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0)
		err = -errno;
	if (!err && kind == NET_SOCK_TCP && listen(fd, backlog) != 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int net_check_free(const struct util_addr *addr, enum net_sock_kind kind)
{
	int family = addr->ss.ss_family;
	int fd = socket(family, (kind == NET_SOCK_UDP ? SOCK_DGRAM : SOCK_STREAM) |
				SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);	/* TIME_WAIT is fine */
	if (family == AF_INET6)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	set_int(fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
		family == AF_INET ? IP_FREEBIND : IPV6_FREEBIND, 1);
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0)
		err = -errno;
	close(fd);
	return err;
}
