/*  anchord - daemon/control.c: the control socket.
 *
 *  A Unix stream socket (server.control, mode 0600) on the main thread's
 *  loop. A client sends one command line and gets one JSON object back,
 *  then the connection closes: anchorctl needs nothing more, and a slow or
 *  silent client costs a few bytes until its timeout. Commands are run by
 *  the daemon (main.c); this file only carries them.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 16
#define CLIENT_TIMEOUT_MS 5000

#define EVENT_BACKLOG (1 << 20)	/* bytes a subscriber may fall behind */

struct control {
	uv_pipe_t listener;
	control_fn run;
	void *ctx;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned clients;
	bool listener_closed;		/* freed when the last client goes */
	struct util_list subscribers;
};

struct control_client {
	uv_pipe_t pipe;
	uv_timer_t timer;
	struct control *ctl;
	struct control_line in;
	bool answered;
	int handles;			/* still to close */
	uv_write_t write;
	char *reply;
	bool subscriber;		/* "events": stays open for them */
	struct util_list node;		/* in control.subscribers */
};

static void client_closed(uv_handle_t *h)
{
	struct control_client *cl = h->data;
	if (--cl->handles > 0)
		return;
	struct control *ctl = cl->ctl;
	free(cl->reply);
	free(cl);
	if (--ctl->clients == 0 && ctl->listener_closed)
		free(ctl);
}

static void client_close(struct control_client *cl)
{
	if (uv_is_closing((uv_handle_t *)&cl->pipe))
		return;
	if (cl->subscriber)
		util_list_remove(&cl->node);
	uv_close((uv_handle_t *)&cl->timer, client_closed);
	uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void written(uv_write_t *w, int status)
{
	client_close(w->data);
}

static void answer(struct control_client *cl, json_t *reply)
{
	cl->answered = true;
	uv_read_stop((uv_stream_t *)&cl->pipe);
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	size_t n = text ? strlen(text) : 0;
	cl->reply = text ? realloc(text, n + 2) : NULL;
	if (!cl->reply) {
		free(text);
		client_close(cl);
		return;
	}
	memcpy(cl->reply + n, "\n", 2);
	uv_buf_t buf = uv_buf_init(cl->reply, (unsigned)(n + 1));
	cl->write.data = cl;
	if (uv_write(&cl->write, (uv_stream_t *)&cl->pipe, &buf, 1, written))
		client_close(cl);
}

/* ------------------------------------------------------------------ events */

struct event_write {
	uv_write_t req;
	char text[];
};

static void event_written(uv_write_t *w, int status)
{
	free(w);
}

static void send_line(struct control_client *cl, const char *line)
{
	size_t n = strlen(line);
	struct event_write *ew = malloc(sizeof(*ew) + n + 1);
	if (!ew)
		return;
	memcpy(ew->text, line, n);
	ew->text[n] = '\n';
	uv_buf_t buf = uv_buf_init(ew->text, (unsigned)(n + 1));
	if (uv_write(&ew->req, (uv_stream_t *)&cl->pipe, &buf, 1,
		     event_written) != 0) {
		free(ew);
		client_close(cl);
	}
}

/* The client stays connected and gets one JSON line per event; one that
 * does not read is dropped rather than buffered without end. */
static void subscribe(struct control_client *cl)
{
	cl->subscriber = true;
	util_list_push(&cl->ctl->subscribers, &cl->node);
	uv_timer_stop(&cl->timer);
	send_line(cl, "{\"ok\":true,\"events\":true}");
}

void control_broadcast(struct control *ctl, const char *json_line)
{
	if (!ctl)
		return;
	struct util_list *n = ctl->subscribers.next;
	while (n != &ctl->subscribers) {
		struct control_client *cl = container_of(n, struct control_client,
							 node);
		n = n->next;	/* client_close unlinks cl */
		if (uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) >
		    EVENT_BACKLOG) {
			log_warning("control", "an event subscriber fell "
				    "behind; dropped");
			client_close(cl);
			continue;
		}
		send_line(cl, json_line);
	}
}

static json_t *error_reply(const char *why)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

enum control_line_state control_line_feed(struct control_line *l, size_t n)
{
	l->len += n;
	l->buf[l->len] = '\0';
	char *end = memchr(l->buf, '\n', l->len);
	if (!end && l->len == CONTROL_MAX_LINE) {
		l->overflow = true;	/* read the rest, so the client hears */
		l->len = 0;
	}
	if (!end)
		return CONTROL_LINE_MORE;
	if (l->overflow)
		return CONTROL_LINE_TOO_LONG;
	*end = '\0';
	if (end > l->buf && end[-1] == '\r')
		end[-1] = '\0';
	return CONTROL_LINE_READY;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct control_client *cl = h->data;
	buf->base = cl->in.buf + cl->in.len;
	buf->len = CONTROL_MAX_LINE - cl->in.len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct control_client *cl = s->data;
	if (n < 0) {
		client_close(cl);
		return;
	}
	switch (control_line_feed(&cl->in, (size_t)n)) {
	case CONTROL_LINE_MORE:
		return;
	case CONTROL_LINE_TOO_LONG:
		answer(cl, error_reply("command line too long"));
		return;
	case CONTROL_LINE_READY:
		break;
	}
	if (cl->subscriber)
		cl->in.len = 0;	/* it has nothing more to say; ignore it */
	else if (strcmp(cl->in.buf, "events") == 0)
		subscribe(cl);
	else
		answer(cl, cl->ctl->run(cl->ctl->ctx, cl->in.buf));
	if (cl->subscriber)
		cl->in.len = 0;
}

static void on_timeout(uv_timer_t *t)
{
	client_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct control_client *cl = status == 0 && ctl->clients < MAX_CLIENTS
				    ? calloc(1, sizeof(*cl)) : NULL;
	uv_pipe_t refused;
	if (!cl) {
		/* accept and drop, so the listener does not spin */
		if (status == 0 && uv_pipe_init(server->loop, &refused, 0) == 0) {
			if (uv_accept(server, (uv_stream_t *)&refused) == 0)
				log_warning("control", "too many clients");
			uv_close((uv_handle_t *)&refused, NULL);
		}
		return;
	}
	cl->ctl = ctl;
	cl->handles = 2;
	ctl->clients++;
	uv_pipe_init(server->loop, &cl->pipe, 0);
	uv_timer_init(server->loop, &cl->timer);
	cl->pipe.data = cl->timer.data = cl;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0) {
		client_close(cl);
		return;
	}
	uv_timer_start(&cl->timer, on_timeout, CLIENT_TIMEOUT_MS, 0);
}

/* A socket file left by a daemon that died is removed; one that answers
 * belongs to a daemon that runs, and is left alone. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int saved = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another anchord answers there", path);
		return -1;
	}
	if (saved == ECONNREFUSED)
		unlink(path);
	return 0;
}

static void control_freed(uv_handle_t *h)
{
	struct control *ctl = h->data;
	ctl->listener_closed = true;
	if (ctl->clients == 0)
		free(ctl);
}

struct control *control_start(uv_loop_t *loop, const char *path,
			      control_fn run, void *ctx, char *err,
			      size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strlen(path) >= sizeof(ctl->path)) {
		snprintf(err, errlen, "%s: longer than a socket path may be "
			 "(%zu bytes)", path, sizeof(ctl->path) - 1);
		free(ctl);
		return NULL;
	}
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->run = run;
	util_list_init(&ctl->subscribers);
	ctl->ctx = ctx;
	uv_pipe_init(loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	int rc = clear_stale(path, err, errlen) != 0 ? -1
		 : uv_pipe_bind(&ctl->listener, path);
	/* owner only: the commands reload and flush */
	if (rc == 0 && chmod(path, 0600) != 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&ctl->listener, 8, on_connection);
	if (rc != 0) {
		if (rc != -1)
			snprintf(err, errlen, "%s: %s", path, uv_strerror(rc));
		uv_close((uv_handle_t *)&ctl->listener, control_freed);
		return NULL;
	}
	return ctl;
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	unlink(ctl->path);
	while (!util_list_empty(&ctl->subscribers))
		client_close(container_of(ctl->subscribers.next,
					  struct control_client, node));
	uv_close((uv_handle_t *)&ctl->listener, control_freed);
}

/* ------------------------------------------------------------------ reports */

static const char *const kind_names[] = { "dns", "dot", "https" };
static const char *const stream_kinds[] = { "tcp", "dot", "https" };
static const char *const transports[] = { "udp", "tcp", "dot", "doh" };
static const char *const upstream_transports[] = { "udp", "tcp", "dot" };

static json_t *listeners_json(const struct anchord_config *c)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < c->n_listen; i++) {
		char addr[UTIL_ADDR_STRLEN];
		util_addr_str((const struct sockaddr *)&c->listen[i].addr.ss,
			      addr, sizeof(addr));
		json_array_append_new(a, json_pack("{s:s, s:s}", "address",
			addr, "kind", kind_names[c->listen[i].kind]));
	}
	return a;
}

static json_t *upstreams_json(struct daemon_workers *ws)
{
	struct dns_worker_health h;
	workers_collect_health(ws, &h);
	json_t *a = json_array();
	for (size_t i = 0; a && i < h.n; i++) {
		const struct dns_upstream_health *u = &h.up[i];
		const char *t = (size_t)u->transport <
					ARRAY_SIZE(upstream_transports)
				? upstream_transports[u->transport] : "?";
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:I, s:I}", "address", u->address,
			"transport", t, "state", u->down ? "down" : "up",
			"srtt_ms", (json_int_t)u->srtt_ms,
			"failures", (json_int_t)u->failures));
	}
	return a;
}

static json_t *cache_json(const struct dns_cache_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "entries", (json_int_t)s->entries,
			 "bytes", (json_int_t)s->bytes,
			 "limit", (json_int_t)s->limit,
			 "hits", (json_int_t)s->hits,
			 "misses", (json_int_t)s->misses,
			 "stale_hits", (json_int_t)s->stale_hits,
			 "evictions", (json_int_t)s->evictions);
}

json_t *control_status(const struct anchord_config *c,
		       struct daemon_workers *ws, int64_t uptime_s)
{
	struct daemon_metrics *m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	workers_collect_metrics(ws, m);
	json_t *conns = json_object();
	for (size_t k = 0; conns && k < ARRAY_SIZE(stream_kinds); k++)
		json_object_set_new(conns, stream_kinds[k],
				    json_integer(m->connections[k]));
	json_t *r = json_pack("{s:b, s:s, s:s, s:I, s:I, s:i, s:o, s:o, s:o,"
			      " s:o}", "ok", 1, "version", ANCHORD_VERSION,
			      "name", c->name, "pid", (json_int_t)getpid(),
			      "uptime_s", (json_int_t)uptime_s,
			      "workers", (int)c->workers,
			      "listeners", listeners_json(c),
			      "connections", conns,
			      "cache", cache_json(&m->cache),
			      "upstreams", upstreams_json(ws));
	free(m);
	return r;
}

json_t *control_stats(struct daemon_workers *ws)
{
	struct daemon_metrics *m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	workers_collect_metrics(ws, m);
	const struct dns_worker_stats *d = &m->dns;
	json_t *q = json_object();
	for (size_t t = 0; q && t < ARRAY_SIZE(transports); t++)
		json_object_set_new(q, transports[t],
				    json_integer((json_int_t)d->queries[t]));
	json_t *r = json_pack(
		"{s:b, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, "
		"s:I, s:I}, s:o, s:{s:I, s:I}}", "ok", 1, "queries", q,
		"answers", "cache_hits", (json_int_t)d->cache_hits,
		"cache_misses", (json_int_t)d->cache_misses,
		"stale", (json_int_t)d->stale_answers,
		"local", (json_int_t)d->local_answers,
		"formerr", (json_int_t)d->formerr_in,
		"dropped", (json_int_t)d->dropped,
		"upstream", "queries", (json_int_t)d->upstream_queries,
		"timeouts", (json_int_t)d->upstream_timeouts,
		"errors", (json_int_t)d->upstream_errors,
		"tcp_fallbacks", (json_int_t)d->upstream_tcp_fallbacks,
		"cache", cache_json(&m->cache),
		"policy", "blocked", (json_int_t)d->policy_blocked,
		"not_ready", (json_int_t)d->policy_not_ready);
	free(m);
	return r;
}
