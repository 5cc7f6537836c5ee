/*  anchord - tests/bench/bench_pake.c: how close the PAKEs run to the cost
 *  of their group operations (make bench-pake).
 *
 *  Each operation is set against the bound its group operations allow,
 *  bound = 1 / (time of the counted libsodium calls). The bound is
 *  measured in situ: after every operation the benchmark runs exactly the
 *  counted calls once more and times them too, so the operation and its
 *  bound are sampled in alternation, a millisecond apart. A virtual
 *  machine's speed can change from one second to the next; this way such
 *  a change slows both sides of a ratio alike. Only the side being
 *  measured is timed: the peer's calls run outside the clock.
 *
 *  Counting, from the code (V = crypto_scalarmult_ristretto255, B = its
 *  _base form, H = crypto_core_ristretto255_from_hash, I =
 *  crypto_core_ristretto255_scalar_invert):
 *  - OPAQUE server login (KE2 + finish): 4 V (OPRF evaluation, dh1, dh2,
 *    dh3) + 1 B (keyshare); plus 1 H, the fake record's client key,
 *    derived on every login so that unknown users cost the same.
 *  - OPAQUE client login, identity KSF (KE1 + KE3): 5 V (blind, dh1, the
 *    unblinding, dh2, dh3) + 2 B (keyshare, the client's public key, needed
 *    because the identity is absent) + 1 H (hash-to-group of the
 *    password); plus 1 I, the unblinding's r^-1.
 *  - CPace, per side (start + finish + verify): 2 V (Y = y*g, K = y*Y') +
 *    1 H (the generator).
 *  Received elements cost nothing extra: the V that uses one validates it.
 *  The first bound counts V and B only; the second adds H and I.
 */
#include "pake/pake.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECONDS_PER_PRIMITIVE 0.5
#define SECONDS_PER_PROTOCOL 4.0

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "bench_pake: %s failed (%d)\n", what, rc);
		exit(1);
	}
}

/* ---------------------------------------------------------- primitives */

/* How many of each primitive an operation needs. */
struct work {
	int var, base, h2g, inv;
};

/* Inputs of the primitives: a scalar, an element, 64 hash bytes. Outputs
 * are fed back in so that no call can be skipped. */
struct operands {
	uint8_t scalar[32];
	uint8_t element[32];
	uint8_t wide[64];
};

static void operands_init(struct operands *x)
{
	crypto_core_ristretto255_scalar_random(x->scalar);
	check(crypto_scalarmult_ristretto255_base(x->element, x->scalar),
	      "scalarmult_base");
	randombytes_buf(x->wide, sizeof(x->wide));
}

static void run_var(struct operands *x, int n)
{
	while (n--)
		check(crypto_scalarmult_ristretto255(x->element, x->scalar,
						     x->element), "scalarmult");
}

static void run_base(struct operands *x, int n)
{
	while (n--)
		check(crypto_scalarmult_ristretto255_base(x->wide, x->scalar),
		      "scalarmult_base");
}

static void run_h2g(struct operands *x, int n)
{
	while (n--)
		crypto_core_ristretto255_from_hash(x->wide + 32, x->wide);
}

static void run_inv(struct operands *x, int n)
{
	while (n--)
		check(crypto_core_ristretto255_scalar_invert(x->wide,
							     x->scalar),
		      "scalar_invert");
}

/* Time @w's calls: V and B into *vb, H and I into *hi. */
static void time_work(struct operands *x, struct work w, double *vb,
		      double *hi)
{
	double t0 = now(), t1;

	run_var(x, w.var);
	run_base(x, w.base);
	t1 = now();
	run_h2g(x, w.h2g);
	run_inv(x, w.inv);
	*vb += t1 - t0;
	*hi += now() - t1;
}

/* Calls per second of one primitive, for the table. */
static double primitive_rate(void (*run)(struct operands *, int))
{
	struct operands x;
	double t0 = now(), t;
	long n;

	operands_init(&x);
	for (n = 0; (t = now() - t0) < SECONDS_PER_PRIMITIVE; n += 100)
		run(&x, 100);
	return (double)n / t;
}

/* ---------------------------------------------------------- accounting */

/* Time spent in an operation and in its bound's calls, over n runs. */
struct tally {
	const char *name;
	struct work work;
	double op, vb, hi;
	long n;
};

static void print_tally(const struct tally *t)
{
	char counted[40];

	snprintf(counted, sizeof(counted), "%dV+%dB+%dH+%dI", t->work.var,
		 t->work.base, t->work.h2g, t->work.inv);
	printf("%-34s %8.0f  %-12s %9.0f %6.2f %9.0f %6.2f\n", t->name,
	       (double)t->n / t->op, counted, (double)t->n / t->vb,
	       t->vb / t->op, (double)t->n / (t->vb + t->hi),
	       (t->vb + t->hi) / t->op);
}

/* -------------------------------------------------------------- OPAQUE */

struct opaque_world {
	struct pake_opaque_server_keys keys;
	struct pake_opaque_params params;
	struct pake_opaque_registration_record record;
	struct pake_str password, user;
};

static void opaque_setup(struct opaque_world *w)
{
	struct pake_opaque_client_registration st;
	struct pake_opaque_registration_request req;
	struct pake_opaque_registration_response resp;
	uint8_t export_key[64];

	memset(w, 0, sizeof(*w));
	pake_opaque_server_keygen(&w->keys);
	w->params.context = PAKE_STR("anchor-enroll-v1 exporter bytes", 31);
	w->params.ksf = PAKE_KSF_IDENTITY;
	w->password = PAKE_STR("correct horse battery staple", 28);
	w->user = PAKE_STR("alice", 5);
	check(pake_opaque_client_register_start(&st, w->password, &req),
	      "register_start");
	check(pake_opaque_server_register(&w->keys, w->user, &req, &resp),
	      "server_register");
	check(pake_opaque_client_register_finish(&st, &w->params, &resp,
						 &w->record, export_key),
	      "register_finish");
}

/* One login: the client's calls count for @client, the server's for
 * @server. */
static void opaque_login(const struct opaque_world *w, struct tally *server,
			 struct tally *client)
{
	struct pake_opaque_client_login cst;
	struct pake_opaque_server_login sst;
	struct pake_opaque_ke1 ke1;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t ck[64], sk[64], ek[64];
	double t0, t1, t2, t3, t4;

	t0 = now();
	check(pake_opaque_client_login_start(&cst, w->password, &ke1),
	      "client_login_start");
	t1 = now();
	check(pake_opaque_server_login_start(&sst, &w->keys, &w->params,
					     w->user, &w->record, &ke1, &ke2),
	      "server_login_start");
	t2 = now();
	check(pake_opaque_client_login_finish(&cst, &w->params, &ke2, &ke3, ck,
					      ek), "client_login_finish");
	t3 = now();
	check(pake_opaque_server_login_finish(&sst, &ke3, sk),
	      "server_login_finish");
	t4 = now();
	client->op += (t1 - t0) + (t3 - t2);
	server->op += (t2 - t1) + (t4 - t3);
	client->n++;
	server->n++;
}

static void bench_opaque(struct tally *server, struct tally *client)
{
	struct opaque_world w;
	struct operands x;
	double t0 = now();

	opaque_setup(&w);
	operands_init(&x);
	while (now() - t0 < SECONDS_PER_PROTOCOL) {
		opaque_login(&w, server, client);
		time_work(&x, server->work, &server->vb, &server->hi);
		time_work(&x, client->work, &client->vb, &client->hi);
	}
}

/* --------------------------------------------------------------- CPace */

/* One session with key confirmation; each side's calls count for it. */
static void cpace_session(const struct pake_cpace_inputs *in,
			  struct tally *a_side, struct tally *b_side)
{
	struct pake_cpace_state a, b;
	struct pake_cpace_message ya, yb;
	struct pake_cpace_keys ka, kb;
	struct pake_str ada = PAKE_STR("anchor-enroll-v1 client", 23);
	struct pake_str adb = PAKE_STR("anchor-enroll-v1 server", 23);
	double t0, t1, t2, t3, t4, t5;

	t0 = now();
	check(pake_cpace_start(&a, PAKE_CPACE_INITIATOR, in, &ya), "a start");
	t1 = now();
	check(pake_cpace_start(&b, PAKE_CPACE_RESPONDER, in, &yb), "b start");
	check(pake_cpace_finish(&b, in->sid, adb, &ya, ada, &kb), "b finish");
	t2 = now();
	check(pake_cpace_finish(&a, in->sid, ada, &yb, adb, &ka), "a finish");
	t3 = now();
	check(pake_cpace_verify(&b, &ka.tag), "b verify");
	t4 = now();
	check(pake_cpace_verify(&a, &kb.tag), "a verify");
	t5 = now();
	a_side->op += (t1 - t0) + (t3 - t2) + (t5 - t4);
	b_side->op += (t2 - t1) + (t4 - t3);
	a_side->n++;
	b_side->n++;
}

static void bench_cpace(struct tally *a_side, struct tally *b_side)
{
	static const uint8_t sid[16] = { 1, 2, 3 };
	/* CI = lv_cat(LABEL, exporter), as the enrollment service builds it */
	static const char ci[] = "\x10" "anchor-enroll-v1"
				 "\x20" "exporter-bytes-exporter-bytes-xx";
	const struct pake_cpace_inputs in = {
		.prs = PAKE_STR("7Q3KXH2M9C4D", 12),
		.ci = PAKE_STR(ci, sizeof(ci) - 1),
		.sid = PAKE_STR(sid, sizeof(sid)),
	};
	struct operands x;
	double t0 = now();

	operands_init(&x);
	while (now() - t0 < SECONDS_PER_PROTOCOL) {
		cpace_session(&in, a_side, b_side);
		time_work(&x, a_side->work, &a_side->vb, &a_side->hi);
		time_work(&x, b_side->work, &b_side->vb, &b_side->hi);
	}
}

/* ---------------------------------------------------------------- main */

static void print_primitives(void)
{
	static const struct {
		const char *name;
		void (*run)(struct operands *, int);
	} prims[] = {
		{ "V crypto_scalarmult_ristretto255", run_var },
		{ "B crypto_scalarmult_ristretto255_base", run_base },
		{ "H crypto_core_ristretto255_from_hash", run_h2g },
		{ "I crypto_core_ristretto255_scalar_invert", run_inv },
	};
	double rate;
	size_t i;

	printf("%-44s %9s %8s\n", "primitive (libsodium " SODIUM_VERSION_STRING
	       ")", "ops/s", "us/op");
	for (i = 0; i < sizeof(prims) / sizeof(prims[0]); i++) {
		rate = primitive_rate(prims[i].run);
		printf("%-44s %9.0f %8.1f\n", prims[i].name, rate, 1e6 / rate);
	}
}

int main(void)
{
	struct tally server = { "OPAQUE server login (KE2+finish)",
				{ 4, 1, 1, 0 }, 0, 0, 0, 0 };
	struct tally client = { "OPAQUE client login, identity KSF",
				{ 5, 2, 1, 1 }, 0, 0, 0, 0 };
	struct tally a_side = { "CPace initiator (msg+ISK+confirm)",
				{ 2, 0, 1, 0 }, 0, 0, 0, 0 };
	struct tally b_side = { "CPace responder (msg+ISK+confirm)",
				{ 2, 0, 1, 0 }, 0, 0, 0, 0 };

	if (sodium_init() < 0)
		return 1;
	printf("PAKE micro-benchmark, one thread\n\n");
	print_primitives();
	bench_opaque(&server, &client);
	bench_cpace(&a_side, &b_side);
	printf("\n%-34s %8s  %-12s %9s %6s %9s %6s\n", "operation", "ops/s",
	       "counted", "bound V+B", "ratio", "bound all", "ratio");
	print_tally(&server);
	print_tally(&client);
	print_tally(&a_side);
	print_tally(&b_side);
	return 0;
}
