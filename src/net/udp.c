/*  anchord - net/udp.c: DNS over UDP with batched system calls.
 *
 *  libuv's UDP handle sends one datagram per system call and allocates a
 *  request for each; a resolver answering from cache spends most of its
 *  time in exactly those calls. So the socket is polled and read with
 *  recvmmsg, and the answers produced while a batch is processed leave
 *  together with one sendmmsg.
 */
#include "net/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UDP_BATCH 64
#define UDP_RECV_SIZE 4096	/* larger queries are cut and dropped */
#define UDP_ROUNDS 8		/* batches per wakeup before yielding */
#define CTRL_SIZE CMSG_SPACE(sizeof(struct in6_pktinfo))

struct udp_slot {
	struct sockaddr_storage addr;
	union {
		char buf[CTRL_SIZE];
		struct cmsghdr align;
	} ctrl;
};

struct net_udp {
	uv_poll_t poll;
	int fd;
	const struct net_udp_ops *ops;
	void *ctx;
	size_t max_answer;
	bool in_batch, reading, closing;
	uint64_t drops;
	struct mmsghdr rmsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH];
	struct udp_slot rslot[UDP_BATCH];
	unsigned n_out;
	struct mmsghdr smsg[UDP_BATCH];
	struct iovec siov[UDP_BATCH];
	struct udp_slot sslot[UDP_BATCH];
	uint8_t *rbuf, *sbuf;
};

/* The local address a datagram was sent to, from its packet info. */
static void read_pktinfo(struct msghdr *h, struct net_udp_peer *peer)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in *in = (struct sockaddr_in *)&peer->local.ss;
			in->sin_family = AF_INET;
			in->sin_addr = pi.ipi_addr;
			peer->local.len = sizeof(*in);
			peer->ifindex = pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in6 *in6 =
				(struct sockaddr_in6 *)&peer->local.ss;
			in6->sin6_family = AF_INET6;
			in6->sin6_addr = pi.ipi6_addr;
			peer->local.len = sizeof(*in6);
			peer->ifindex = (int)pi.ipi6_ifindex;
		}
	}
}

/* Answer from the address the query went to (matters on wildcard binds). */
static void write_pktinfo(struct msghdr *h, struct udp_slot *slot,
			  const struct net_udp_peer *peer)
{
	h->msg_control = NULL;
	h->msg_controllen = 0;
	if (peer->local.len == 0)
		return;
	memset(&slot->ctrl, 0, sizeof(slot->ctrl));
	h->msg_control = slot->ctrl.buf;
	struct cmsghdr *c = (struct cmsghdr *)slot->ctrl.buf;
	if (peer->local.ss.ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };
		pi.ipi_spec_dst = ((struct sockaddr_in *)&peer->local.ss)->sin_addr;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		h->msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };
		pi.ipi6_addr = ((struct sockaddr_in6 *)&peer->local.ss)->sin6_addr;
		pi.ipi6_ifindex = (unsigned)peer->ifindex;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		h->msg_controllen = CMSG_SPACE(sizeof(pi));
	}
}

static void flush(struct net_udp *u)
{
	unsigned sent = 0;
	while (sent < u->n_out) {
		int n = sendmmsg(u->fd, u->smsg + sent, u->n_out - sent,
				 MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				sent++;	/* skip the datagram the kernel refused */
				u->drops++;
				continue;
			}
			break;
		}
		sent += (unsigned)n;
	}
	u->drops += u->n_out - sent;
	u->n_out = 0;
}

static void prepare_receive(struct net_udp *u, unsigned i)
{
	struct msghdr *h = &u->rmsg[i].msg_hdr;
	u->riov[i].iov_base = u->rbuf + (size_t)i * UDP_RECV_SIZE;
	u->riov[i].iov_len = UDP_RECV_SIZE;
	h->msg_name = &u->rslot[i].addr;
	h->msg_namelen = sizeof(u->rslot[i].addr);
	h->msg_iov = &u->riov[i];
	h->msg_iovlen = 1;
	h->msg_control = u->rslot[i].ctrl.buf;
	h->msg_controllen = sizeof(u->rslot[i].ctrl);
	h->msg_flags = 0;
}

static void handle_datagram(struct net_udp *u, unsigned i, size_t len)
{
	struct msghdr *h = &u->rmsg[i].msg_hdr;
	if (h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		u->drops++;
		return;
	}
	struct net_udp_peer peer = { 0 };
	util_addr_set(&peer.remote, (struct sockaddr *)&u->rslot[i].addr,
		      h->msg_namelen);
	read_pktinfo(h, &peer);
	u->ops->on_message(u->ctx, u, u->riov[i].iov_base, len, &peer);
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
	struct net_udp *u = poll->data;
	if (status < 0 || !(events & UV_READABLE))
		return;
	for (int round = 0; round < UDP_ROUNDS && u->reading; round++) {
		for (unsigned i = 0; i < UDP_BATCH; i++)
			prepare_receive(u, i);
		int n = recvmmsg(u->fd, u->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		u->in_batch = true;
		for (unsigned i = 0; i < (unsigned)n; i++)
			handle_datagram(u, i, u->rmsg[i].msg_len);
		u->in_batch = false;
		flush(u);
		if (n < UDP_BATCH)
			break;
	}
}

void net_udp_send(struct net_udp *u, const struct net_udp_peer *peer,
		  const uint8_t *msg, size_t len)
{
	if (u->closing || len > u->max_answer) {
		u->drops++;
		return;
	}
	if (u->n_out == UDP_BATCH)
		flush(u);
	unsigned i = u->n_out;
	uint8_t *buf = u->sbuf + (size_t)i * u->max_answer;
	memcpy(buf, msg, len);
	struct msghdr *h = &u->smsg[i].msg_hdr;
	memset(h, 0, sizeof(*h));
	memcpy(&u->sslot[i].addr, &peer->remote.ss, peer->remote.len);
	h->msg_name = &u->sslot[i].addr;
	h->msg_namelen = peer->remote.len;
	u->siov[i].iov_base = buf;
	u->siov[i].iov_len = len;
	h->msg_iov = &u->siov[i];
	h->msg_iovlen = 1;
	write_pktinfo(h, &u->sslot[i], peer);
	u->n_out++;
	if (!u->in_batch)
		flush(u);	/* an answer that arrived later goes now */
}

struct net_udp *net_udp_start(uv_loop_t *loop, int fd,
			      const struct net_udp_ops *ops, void *ctx,
			      size_t max_answer)
{
	struct net_udp *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->fd = fd;
	u->ops = ops;
	u->ctx = ctx;
	u->max_answer = max_answer;
	u->rbuf = malloc((size_t)UDP_BATCH * UDP_RECV_SIZE);
	u->sbuf = malloc((size_t)UDP_BATCH * max_answer);
	if (!u->rbuf || !u->sbuf || uv_poll_init(loop, &u->poll, fd) != 0) {
		free(u->rbuf);
		free(u->sbuf);
		free(u);
		return NULL;
	}
	u->poll.data = u;
	u->reading = true;
	uv_poll_start(&u->poll, UV_READABLE, on_readable);
	return u;
}

void net_udp_stop_reading(struct net_udp *u)
{
	u->reading = false;
	uv_poll_stop(&u->poll);
}

uint64_t net_udp_drops(const struct net_udp *u)
{
	return u->drops;
}

static void udp_closed(uv_handle_t *h)
{
	struct net_udp *u = h->data;
	close(u->fd);
	free(u->rbuf);
	free(u->sbuf);
	free(u);
}

void net_udp_close(struct net_udp *u)
{
	u->closing = true;
	uv_close((uv_handle_t *)&u->poll, udp_closed);
}
