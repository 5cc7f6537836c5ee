/*  anchord - daemon/querylog.c: the query log (log.queries).
 *
 *  One JSON object per answered query, one per line, for log shippers.
 *  Workers never touch the file: each formats its lines into a buffer of
 *  its own (a mutex held for one memcpy), and one writer thread swaps the
 *  full buffer for an empty one and writes it. When the disk is slower
 *  than the queries and a buffer is full, lines are dropped and counted
 *  rather than slowing the answers down.
 *
 *  Rotation: SIGHUP reopens the file by its name (logrotate's "rename,
 *  then signal"); past log.queries-max-size the writer itself renames the
 *  file to <file>.1 (replacing an older one) and starts a new file.
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFFER_BYTES (512u << 10)	/* per worker: ~2,500 lines */
#define LINE_MAX_BYTES 4096		/* the longest line fits easily */
#define DROP_REPORT_NS (10ull * 1000000000ull)

/* What one worker has formatted and the writer has not yet taken. */
struct worker_buffer {
	struct querylog *ql;
	uv_mutex_t lock;
	char *fill;			/* workers append here, under lock */
	size_t len;
	char *spare;			/* the writer writes this one out */
};

struct querylog {
	char *path;
	char *rotated_path;		/* path.1 */
	uint64_t max_size;		/* 0: no rotation by size */
	int fd;
	uint64_t size;			/* of the open file */
	struct worker_buffer *buffers;
	unsigned n_buffers;
	atomic_uint_fast64_t dropped;
	atomic_bool reopen;
	uint64_t dropped_reported;
	uint64_t last_report_ns;
	uv_thread_t writer;
	uv_mutex_t wake_lock;
	uv_cond_t wake_cond;
	bool wake, stopping;		/* under wake_lock */
};

/* ------------------------------------------------------------------ formatting */

struct line {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put_raw(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= l->cap) {
		l->overflow = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put_raw(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void put_fmt(struct line *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = l->cap > l->len ? l->cap - l->len : 0;
	int n = vsnprintf(l->buf + l->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		l->overflow = true;
	else
		l->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] > 0xf4 || len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* A JSON string of arbitrary bytes (certificate names and client ids come
 * from clients): always valid JSON, invalid UTF-8 becomes U+FFFD. */
static void put_json_string(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	put_raw(l, "\"", 1);
	while (n) {
		size_t take = 1;
		if (*p == '"' || *p == '\\') {
			put_raw(l, "\\", 1);
			put_raw(l, (const char *)p, 1);
		} else if (*p < 0x20 || *p == 0x7f) {
			put_fmt(l, "\\u%04x", *p);
		} else if (*p < 0x80) {
			put_raw(l, (const char *)p, 1);
		} else if ((take = utf8_sequence(p, n)) != 0) {
			put_raw(l, (const char *)p, take);
		} else {
			put_str(l, "\\ufffd");
			take = 1;
		}
		p += take;
		n -= take;
	}
	put_raw(l, "\"", 1);
}

static void put_time(struct line *l, const struct timespec *now)
{
	struct tm tm;
	gmtime_r(&now->tv_sec, &tm);
	put_fmt(l, "\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, now->tv_nsec / 1000000);
}

static void put_client(struct line *l, const struct dns_client *c)
{
	static const char *const transports[] = { "udp", "tcp", "dot", "doh" };
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr.ss;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  host, sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
			  sizeof(host));
	put_fmt(l, ",\"client\":\"%s\"", host);
	if (c->cert_present && c->cert_verified && c->cert_cn[0]) {
		put_str(l, ",\"identity\":");
		put_json_string(l, c->cert_cn);
	}
	if (c->client_id[0]) {
		put_str(l, ",\"client_id\":");
		put_json_string(l, c->client_id);
	}
	put_fmt(l, ",\"transport\":\"%s\"",
		c->transport < ARRAY_SIZE(transports) ? transports[c->transport]
						      : "?");
}

static void put_question(struct line *l, const struct dns_query *q)
{
	if (!q->question_end) {		/* FORMERR before the question */
		put_str(l, ",\"name\":null,\"type\":null");
		return;
	}
	/* The presentation form escapes everything but printable ASCII
	 * (\DDD), so the JSON escaping after it sees only ASCII. */
	char name[4 * DNS_MAX_NAME + 2];
	dns_name_str(q->qname, name, sizeof(name));
	put_str(l, ",\"name\":");
	put_json_string(l, name);
	const char *type = dns_type_name(q->qtype);
	if (type)
		put_fmt(l, ",\"type\":\"%s\"", type);
	else
		put_fmt(l, ",\"type\":\"TYPE%u\"", q->qtype);	/* RFC 3597 */
}

static void put_outcome(struct line *l, const struct dns_answered *a)
{
	const char *rcode = dns_rcode_name(a->rcode);
	if (rcode)
		put_fmt(l, ",\"rcode\":\"%s\"", rcode);
	else
		put_fmt(l, ",\"rcode\":\"RCODE%u\"", a->rcode);
	if (a->ede >= 0)
		put_fmt(l, ",\"ede\":[%d]", a->ede);
	else
		put_str(l, ",\"ede\":[]");
	put_fmt(l, ",\"cached\":%s", a->cached ? "true" : "false");
	if (a->stale)
		put_str(l, ",\"stale\":true");
	if (a->dnssec)
		put_fmt(l, ",\"dnssec\":\"%s\"", a->dnssec);
	put_fmt(l, ",\"latency_ms\":%" PRIu64 ".%03" PRIu64,
		a->latency_ns / 1000000, a->latency_ns / 1000 % 1000);
}

size_t querylog_format(char *out, size_t cap, const struct dns_answered *a,
		       const struct timespec *now)
{
	struct line l = { .buf = out, .cap = cap };
	put_raw(&l, "{", 1);
	put_time(&l, now);
	put_client(&l, a->client);
	put_question(&l, a->q);
	put_outcome(&l, a);
	put_raw(&l, "}\n", 2);
	return l.overflow ? 0 : l.len;
}

/* ------------------------------------------------------------------ workers' side */

static void wake_writer(struct querylog *ql)
{
	uv_mutex_lock(&ql->wake_lock);
	ql->wake = true;
	uv_cond_signal(&ql->wake_cond);
	uv_mutex_unlock(&ql->wake_lock);
}

/* The observer of a worker's answers (dns_answered_fn). */
static void log_answer(void *ctx, const struct dns_answered *a)
{
	struct worker_buffer *b = ctx;
	char line[LINE_MAX_BYTES];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n = querylog_format(line, sizeof(line), a, &now);
	bool stored = false, was_empty = false;
	if (n) {
		uv_mutex_lock(&b->lock);
		was_empty = b->len == 0;
		stored = b->len + n <= BUFFER_BYTES;
		if (stored) {
			memcpy(b->fill + b->len, line, n);
			b->len += n;
		}
		uv_mutex_unlock(&b->lock);
	}
	if (!stored)
		atomic_fetch_add_explicit(&b->ql->dropped, 1,
					  memory_order_relaxed);
	else if (was_empty)	/* once per batch, not per line */
		wake_writer(b->ql);
}

void querylog_attach(struct querylog *ql, unsigned worker,
		     struct dns_worker *dns)
{
	if (ql && worker < ql->n_buffers)
		dns_worker_set_answered(dns, log_answer, &ql->buffers[worker]);
}

/* ------------------------------------------------------------------ the writer */

static int open_file(struct querylog *ql)
{
	ql->fd = open(ql->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		      0640);
	struct stat st;
	if (ql->fd < 0)
		return -errno;
	ql->size = fstat(ql->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void close_file(struct querylog *ql)
{
	if (ql->fd >= 0)
		close(ql->fd);
	ql->fd = -1;
	ql->size = 0;
}

static void reopen_file(struct querylog *ql)
{
	close_file(ql);
	int ret = open_file(ql);
	if (ret != 0)
		log_warning("querylog", "cannot open %s: %s; lines are dropped "
			    "until it can be", ql->path, strerror(-ret));
}

static void rotate_file(struct querylog *ql)
{
	close_file(ql);
	if (rename(ql->path, ql->rotated_path) != 0)
		log_warning("querylog", "cannot rename %s to %s: %s", ql->path,
			    ql->rotated_path, strerror(errno));
	reopen_file(ql);
}

static void write_all(struct querylog *ql, const char *p, size_t len)
{
	while (len && ql->fd >= 0) {
		ssize_t n = write(ql->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warning("querylog", "writing %s: %s", ql->path,
				    n < 0 ? strerror(errno) : "nothing written");
			break;
		}
		p += n;
		len -= (size_t)n;
		ql->size += (uint64_t)n;
	}
}

static uint64_t count_lines(const char *p, size_t len)
{
	uint64_t n = 0;
	for (const char *e = p + len; (p = memchr(p, '\n', (size_t)(e - p)));
	     p++)
		n++;
	return n;
}

/* How many bytes of whole lines of p fit in room. */
static size_t whole_lines_within(const char *p, size_t len, uint64_t room)
{
	const char *nl = memrchr(p, '\n', (size_t)MIN((uint64_t)len, room));
	return nl ? (size_t)(nl - p) + 1 : 0;
}

/* Write whole lines, rotating between lines when the file is full. */
static void write_lines(struct querylog *ql, const char *p, size_t len)
{
	if (ql->fd < 0) {
		atomic_fetch_add_explicit(&ql->dropped, count_lines(p, len),
					  memory_order_relaxed);
		return;
	}
	while (len) {
		size_t n = len;
		if (ql->max_size && ql->size + len > ql->max_size) {
			uint64_t room = ql->max_size > ql->size
						? ql->max_size - ql->size : 0;
			n = whole_lines_within(p, len, room);
			if (n == 0 && ql->size > 0) {
				rotate_file(ql);
				continue;
			}
			if (n == 0) {	/* one line longer than the limit */
				const char *nl = memchr(p, '\n', len);
				n = nl ? (size_t)(nl - p) + 1 : len;
			}
		}
		write_all(ql, p, n);
		p += n;
		len -= n;
	}
}

/* Take each worker's buffer (swapping in the empty spare) and write it. */
static void flush_buffers(struct querylog *ql)
{
	for (unsigned i = 0; i < ql->n_buffers; i++) {
		struct worker_buffer *b = &ql->buffers[i];
		uv_mutex_lock(&b->lock);
		char *full = b->fill;
		size_t len = b->len;
		b->fill = b->spare;
		b->len = 0;
		b->spare = full;
		uv_mutex_unlock(&b->lock);
		if (len)
			write_lines(ql, full, len);
	}
}

/* Drops are logged now and then, not per line. */
static void report_drops(struct querylog *ql, bool final)
{
	uint64_t dropped = atomic_load(&ql->dropped);
	uint64_t now = uv_hrtime();
	if (dropped == ql->dropped_reported ||
	    (!final && now - ql->last_report_ns < DROP_REPORT_NS))
		return;
	log_warning("querylog", "%" PRIu64 " lines dropped (%" PRIu64 " in "
		    "all): the log could not keep up", dropped -
		    ql->dropped_reported, dropped);
	ql->dropped_reported = dropped;
	ql->last_report_ns = now;
}

static void writer_main(void *arg)
{
	struct querylog *ql = arg;
	bool stopping = false;
	while (!stopping) {
		uv_mutex_lock(&ql->wake_lock);
		while (!ql->wake && !ql->stopping)
			uv_cond_wait(&ql->wake_cond, &ql->wake_lock);
		ql->wake = false;
		stopping = ql->stopping;
		uv_mutex_unlock(&ql->wake_lock);
		if (atomic_exchange(&ql->reopen, false))
			reopen_file(ql);
		else if (ql->fd < 0)
			open_file(ql);	/* retry quietly after a failure */
		flush_buffers(ql);
		report_drops(ql, stopping);
	}
}

/* ------------------------------------------------------------------ lifecycle */

static int init_buffers(struct querylog *ql, unsigned n)
{
	ql->buffers = calloc(n, sizeof(*ql->buffers));
	if (!ql->buffers)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct worker_buffer *b = &ql->buffers[i];
		b->ql = ql;
		if (uv_mutex_init(&b->lock) != 0)
			return -1;
		ql->n_buffers = i + 1;	/* free_querylog takes it from here */
		b->fill = malloc(BUFFER_BYTES);
		b->spare = malloc(BUFFER_BYTES);
		if (!b->fill || !b->spare)
			return -1;
	}
	return 0;
}

static void free_querylog(struct querylog *ql)
{
	for (unsigned i = 0; i < ql->n_buffers; i++) {
		uv_mutex_destroy(&ql->buffers[i].lock);
		free(ql->buffers[i].fill);
		free(ql->buffers[i].spare);
	}
	free(ql->buffers);
	free(ql->path);
	free(ql->rotated_path);
	free(ql);
}

struct querylog *querylog_open(const char *path, uint64_t max_size,
			       unsigned n_workers, char *err, size_t errlen)
{
	struct querylog *ql = calloc(1, sizeof(*ql));
	if (!ql) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ql->fd = -1;
	ql->max_size = max_size;
	ql->path = strdup(path);
	if (asprintf(&ql->rotated_path, "%s.1", path) < 0)
		ql->rotated_path = NULL;
	if (!ql->path || !ql->rotated_path ||
	    init_buffers(ql, n_workers) != 0) {
		snprintf(err, errlen, "out of memory");
		free_querylog(ql);
		return NULL;
	}
	int ret = open_file(ql);
	if (ret != 0) {
		snprintf(err, errlen, "log.queries-file %s: %s", path,
			 strerror(-ret));
		free_querylog(ql);
		return NULL;
	}
	uv_mutex_init(&ql->wake_lock);
	uv_cond_init(&ql->wake_cond);
	if (uv_thread_create(&ql->writer, writer_main, ql) != 0) {
		snprintf(err, errlen, "cannot start the query log's thread");
		uv_cond_destroy(&ql->wake_cond);
		uv_mutex_destroy(&ql->wake_lock);
		close_file(ql);
		free_querylog(ql);
		return NULL;
	}
	return ql;
}

void querylog_reopen(struct querylog *ql)
{
	if (!ql)
		return;
	atomic_store(&ql->reopen, true);
	wake_writer(ql);
}

uint64_t querylog_dropped(struct querylog *ql)
{
	return ql ? atomic_load(&ql->dropped) : 0;
}

void querylog_close(struct querylog *ql)
{
	if (!ql)
		return;
	uv_mutex_lock(&ql->wake_lock);
	ql->stopping = true;
	uv_cond_signal(&ql->wake_cond);
	uv_mutex_unlock(&ql->wake_lock);
	uv_thread_join(&ql->writer);	/* it flushes everything first */
	uv_cond_destroy(&ql->wake_cond);
	uv_mutex_destroy(&ql->wake_lock);
	close_file(ql);
	free_querylog(ql);
}
