/* tls_handshakes.c - TLS handshakes per second against a DoT port, full or
 * resumed, for make bench (tests/bench/bench.py).
 *
 *   tls_handshakes ADDRESS PORT SECONDS THREADS full|resumed
 *
 * THREADS client threads each connect, complete a handshake and close, in
 * a loop, for SECONDS. In resumed mode each thread first makes one full
 * handshake, sends a DNS query and reads the answer (under TLS 1.3 the
 * session ticket arrives after the handshake, so reading is what receives
 * it), keeps that session's data and offers it on every later connection;
 * gnutls_session_is_resumed() tells whether the server really resumed, and
 * the fraction that did is printed, so a server that ignores tickets shows
 * as such rather than as a fast full handshake. Certificates are not
 * verified: the benchmark measures the server's cost, not trust. The one
 * key-exchange group offered is X25519, as OpenSSL and BoringSSL clients
 * send a key share for it only: GnuTLS's default would also make a P-256
 * key share on every connection, and with both on the client's core the
 * client, not the server, was the limit.
 *
 * Output, one line:  handshakes=N seconds=S per_second=R resumed=F
 * (F the fraction of handshakes the server resumed, 0 in full mode).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_GROUPS "-GROUP-ALL:+GROUP-X25519"

struct config {
	struct sockaddr_in server;
	double seconds;
	bool resumed;
	gnutls_certificate_credentials_t credentials;
};

struct worker {
	pthread_t thread;
	const struct config *config;
	unsigned long handshakes;
	unsigned long resumed;
	unsigned long failures;
	gnutls_datum_t session_data;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const struct sockaddr_in *server)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	/* Closing with a reset keeps thousands of connections per second from
	 * exhausting the ephemeral ports in TIME_WAIT. */
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)server, sizeof(*server)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One connection: handshake (offering saved session data if any); when
 * ask is set, one DNS query and its answer. Returns the session, still
 * open, or NULL on failure; *fd_out is the socket. */
static gnutls_session_t handshake(const struct worker *w, int *fd_out)
{
	gnutls_session_t session;
	int fd = connect_to(&w->config->server);
	int rc;

	if (fd < 0)
		return NULL;
	if (gnutls_init(&session, GNUTLS_CLIENT) < 0) {
		close(fd);
		return NULL;
	}
	gnutls_set_default_priority_append(session, CLIENT_GROUPS, NULL, 0);
	gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE,
			       w->config->credentials);
	gnutls_server_name_set(session, GNUTLS_NAME_DNS, "dns.bench.test",
			       strlen("dns.bench.test"));
	if (w->session_data.size)
		gnutls_session_set_data(session, w->session_data.data,
					w->session_data.size);
	gnutls_transport_set_int(session, fd);
	gnutls_handshake_set_timeout(session, 5000);
	do {
		rc = gnutls_handshake(session);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		gnutls_deinit(session);
		close(fd);
		return NULL;
	}
	*fd_out = fd;
	return session;
}

static void finish(gnutls_session_t session, int fd)
{
	gnutls_deinit(session);
	close(fd);
}

/* A query for www1.bench.test A over the session, and its answer read,
 * which also takes in the TLS 1.3 session tickets sent after the
 * handshake. */
static bool ask_one_query(gnutls_session_t session)
{
	static const unsigned char query[] = {
		0, 33, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		4, 'w', 'w', 'w', '1', 5, 'b', 'e', 'n', 'c', 'h',
		4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	unsigned char answer[4096];
	ssize_t n;

	if (gnutls_record_send(session, query, sizeof(query)) !=
	    (ssize_t)sizeof(query))
		return false;
	gnutls_record_set_timeout(session, 5000);
	do {
		n = gnutls_record_recv(session, answer, sizeof(answer));
	} while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	return n > 2;
}

static bool prime_session(struct worker *w)
{
	int fd;
	gnutls_session_t session = handshake(w, &fd);
	bool ok;

	if (!session)
		return false;
	ok = ask_one_query(session) &&
	     gnutls_session_get_data2(session, &w->session_data) == 0;
	finish(session, fd);
	return ok;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	double end;
	int fd;

	if (w->config->resumed && !prime_session(w)) {
		fprintf(stderr, "tls_handshakes: no session to resume\n");
		w->failures++;
		return NULL;
	}
	end = now_seconds() + w->config->seconds;
	while (now_seconds() < end) {
		gnutls_session_t session = handshake(w, &fd);

		if (!session) {
			w->failures++;
			continue;
		}
		w->handshakes++;
		if (gnutls_session_is_resumed(session))
			w->resumed++;
		finish(session, fd);
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: tls_handshakes ADDRESS PORT SECONDS THREADS "
			"full|resumed\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct config config = { .server.sin_family = AF_INET };
	unsigned long handshakes = 0, resumed = 0, failures = 0;
	int threads;
	double started, elapsed;

	if (argc != 6 || inet_pton(AF_INET, argv[1],
				   &config.server.sin_addr) != 1)
		return usage();
	config.server.sin_port = htons((uint16_t)atoi(argv[2]));
	config.seconds = atof(argv[3]);
	threads = atoi(argv[4]);
	config.resumed = strcmp(argv[5], "resumed") == 0;
	if (threads < 1 || threads > 256 || config.seconds <= 0 ||
	    (!config.resumed && strcmp(argv[5], "full") != 0))
		return usage();
	if (gnutls_certificate_allocate_credentials(&config.credentials) < 0)
		return 1;

	struct worker *workers = calloc((size_t)threads, sizeof(*workers));

	if (!workers)
		return 1;
	started = now_seconds();
	for (int i = 0; i < threads; i++) {
		workers[i].config = &config;
		if (pthread_create(&workers[i].thread, NULL, run_worker,
				   &workers[i]) != 0)
			return 1;
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(workers[i].thread, NULL);
		handshakes += workers[i].handshakes;
		resumed += workers[i].resumed;
		failures += workers[i].failures;
		gnutls_free(workers[i].session_data.data);
	}
	elapsed = now_seconds() - started;
	printf("handshakes=%lu seconds=%.3f per_second=%.1f resumed=%.4f "
	       "failures=%lu\n", handshakes, elapsed,
	       (double)handshakes / elapsed,
	       handshakes ? (double)resumed / (double)handshakes : 0.0,
	       failures);
	free(workers);
	gnutls_certificate_free_credentials(config.credentials);
	return handshakes ? 0 : 1;
}
