/*  anchord - unit tests of policy/engine.c: client rules, identities and
 *  decisions over a generation built from a configuration and facts. */
#include "test.h"

#include "policy/policy.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *wire(const char *text, uint8_t out[256])
{
	size_t p = 0;
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);
		out[p++] = (uint8_t)n;
		memcpy(out + p, text, n);
		p += n;
		text += n + (dot ? 1 : 0);
	}
	out[p] = 0;
	return out;
}

static struct sockaddr_storage address(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	struct util_addr a;
	assert_int_equal(util_addr_parse(text, 0, &a), 0);
	memcpy(&ss, &a.ss, sizeof(ss));
	return ss;
}

static char **strings(const char *a, const char *b)
{
	char **v = calloc(3, sizeof(*v));
	v[0] = strdup(a);
	if (b)
		v[1] = strdup(b);
	return v;
}

/* default, byod (a block list and an exception), iot (MUD required);
 * rules: 10.20.0.0/16 -> iot, device "kiosk" -> byod, a certificate with
 * a MUD URL -> iot, certificate-profile, client id "kids" -> byod. */
static void make_conf(struct policy_conf *c)
{
	policy_conf_defaults(c);
	c->n_profiles = 3;
	c->profiles = calloc(3, sizeof(*c->profiles));
	c->profiles[0].name = strdup("default");
	c->profiles[1].name = strdup("byod");
	c->profiles[1].block = strings("ads.example", "*.tracker.example");
	c->profiles[1].n_block = 2;
	c->profiles[1].allow = strings("ok.ads.example", NULL);
	c->profiles[1].n_allow = 1;
	c->profiles[2].name = strdup("iot");
	c->profiles[2].mud = POLICY_MUD_REQUIRED;
	c->n_clients = 5;
	c->clients = calloc(5, sizeof(*c->clients));
	c->clients[0].subnets = calloc(1, sizeof(struct util_subnet));
	assert_int_equal(util_subnet_parse("10.20.0.0/16",
					   c->clients[0].subnets), 0);
	c->clients[0].n_subnets = 1;
	c->clients[0].profile = strdup("iot");
	c->clients[1].device = strdup("kiosk");
	c->clients[1].profile = strdup("byod");
	c->clients[2].certificate_mud = true;
	c->clients[2].profile = strdup("iot");
	c->clients[3].certificate_profile = true;
	c->clients[4].client_id = strdup("kids");
	c->clients[4].profile = strdup("byod");
}

struct world {
	struct policy_conf conf;
	struct policy_lists *lists;
	struct policy_mud_policy *thermo;
	struct policy *p;
};

static struct policy_mud_policy *thermo_policy(void)
{
	char *names[] = { "telemetry.example", "firmware.example" };
	struct policy_mud m = { .names = names, .n_names = 2 };
	return policy_mud_compile(&m);
}

static int setup(void **state)
{
	static struct world w;
	char err[256];
	make_conf(&w.conf);
	w.lists = policy_lists_load(&w.conf, err, sizeof(err));
	assert_non_null(w.lists);
	w.thermo = thermo_policy();
	struct policy_device_profile devices[] = {
		{ "laptop-1", "byod" }, { "phone-2", "" }, { "tv", "nope" },
	};
	struct policy_binding bindings[] = {
		{ .url = "https://mud.example/thermo.json" },
		{ .url = "https://mud.example/pending.json" },
	};
	bindings[0].address.ss = address("10.20.0.5");
	bindings[1].address.ss = address("10.20.0.6");
	struct policy_mud_entry muds[] = {
		{ "https://mud.example/thermo.json", w.thermo, false },
		{ "https://mud.example/pending.json", NULL, true },
		{ "https://mud.example/broken.json", NULL, false },
	};
	struct policy_facts f = {
		.devices = devices, .n_devices = 3,
		.bindings = bindings, .n_bindings = 2,
		.muds = muds, .n_muds = 3,
	};
	w.p = policy_build(&w.conf, w.lists, &f, err, sizeof(err));
	assert_non_null(w.p);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	policy_unref(w->p);
	policy_mud_policy_unref(w->thermo);
	policy_lists_unref(w->lists);
	policy_conf_free(&w->conf);
	return 0;
}

static enum policy_verdict decide(struct world *w, struct policy_who *who,
				  const char *name, struct policy_decision *d)
{
	struct policy_identity id;
	uint8_t buf[256];
	struct policy_decision local;
	policy_identify(w->p, who, &id);
	policy_decide(w->p, &id, wire(name, buf), d ? d : &local);
	return (d ? d : &local)->verdict;
}

static void default_profile_allows_everything(void **state)
{
	struct sockaddr_storage a = address("127.0.0.1");
	struct policy_who who = { .addr = (struct sockaddr *)&a };
	struct policy_decision d;
	assert_int_equal(decide(*state, &who, "ads.example", &d), POLICY_ALLOW);
	assert_string_equal(d.profile, "default");
	assert_false(d.confined);
}

static void blocklist_subtree_and_exceptions(void **state)
{
	struct sockaddr_storage a = address("127.0.0.1");
	struct policy_who who = { .addr = (struct sockaddr *)&a,
				  .cert_verified = true, .cert_cn = "kiosk" };
	struct policy_decision d;
	assert_int_equal(decide(*state, &who, "ads.example", &d), POLICY_BLOCK);
	assert_string_equal(d.profile, "byod");
	assert_int_equal(decide(*state, &who, "x.ads.example", NULL),
			 POLICY_BLOCK);
	assert_int_equal(decide(*state, &who, "ok.ads.example", NULL),
			 POLICY_ALLOW);
	assert_int_equal(decide(*state, &who, "a.tracker.example", NULL),
			 POLICY_BLOCK);
	assert_int_equal(decide(*state, &who, "example", NULL), POLICY_ALLOW);
	/* the same name without a verified certificate: default */
	who.cert_verified = false;
	assert_int_equal(decide(*state, &who, "ads.example", NULL),
			 POLICY_ALLOW);
}

static void stored_profile_and_client_id(void **state)
{
	struct sockaddr_storage a = address("127.0.0.1");
	struct policy_who who = { .addr = (struct sockaddr *)&a,
				  .cert_verified = true, .cert_cn = "laptop-1" };
	assert_int_equal(decide(*state, &who, "ads.example", NULL),
			 POLICY_BLOCK);
	/* a device without a stored profile, or with an unknown one */
	who.cert_cn = "phone-2";
	assert_int_equal(decide(*state, &who, "ads.example", NULL),
			 POLICY_ALLOW);
	who.cert_cn = "tv";
	assert_int_equal(decide(*state, &who, "ads.example", NULL),
			 POLICY_ALLOW);
	struct policy_who kid = { .addr = (struct sockaddr *)&a,
				  .client_id = "kids" };
	assert_int_equal(decide(*state, &kid, "ads.example", NULL),
			 POLICY_BLOCK);
}

static void mud_binding_confines(void **state)
{
	struct sockaddr_storage a = address("10.20.0.5");
	struct policy_who who = { .addr = (struct sockaddr *)&a };
	struct policy_decision d;
	assert_int_equal(decide(*state, &who, "telemetry.example", &d),
			 POLICY_ALLOW);
	assert_true(d.confined);
	assert_int_equal(decide(*state, &who, "sub.telemetry.example", &d),
			 POLICY_BLOCK);
	assert_int_equal(decide(*state, &who, "other.example", &d),
			 POLICY_BLOCK);
	/* DDR names are never blocked */
	assert_int_equal(decide(*state, &who, "_dns.resolver.arpa", NULL),
			 POLICY_ALLOW);
	/* the same device seen through a dual-stack socket */
	struct sockaddr_storage m = address("::ffff:10.20.0.5");
	who.addr = (struct sockaddr *)&m;
	assert_int_equal(decide(*state, &who, "telemetry.example", NULL),
			 POLICY_ALLOW);
	assert_int_equal(decide(*state, &who, "other.example", NULL),
			 POLICY_BLOCK);
}

static void mud_missing_pending_or_unknown(void **state)
{
	struct sockaddr_storage a = address("10.20.0.6");
	struct policy_who who = { .addr = (struct sockaddr *)&a };
	assert_int_equal(decide(*state, &who, "telemetry.example", NULL),
			 POLICY_NOT_READY);
	struct sockaddr_storage b = address("10.20.9.9");
	who.addr = (struct sockaddr *)&b;
	struct policy_decision d;
	assert_int_equal(decide(*state, &who, "telemetry.example", &d),
			 POLICY_BLOCK);
	assert_non_null(strstr(d.reason, "no MUD file"));
	/* a certificate's URL that the facts do not hold wants fetching */
	struct sockaddr_storage c = address("127.0.0.1");
	struct policy_who cam = { .addr = (struct sockaddr *)&c,
				  .cert_verified = true, .cert_cn = "cam",
				  .cert_mud_url = "https://mud.example/new.json" };
	struct policy_identity id;
	policy_identify(((struct world *)*state)->p, &cam, &id);
	assert_true(id.mud_url_unknown);
	assert_int_equal(decide(*state, &cam, "telemetry.example", NULL),
			 POLICY_NOT_READY);
	/* a certificate's URL beats the address binding */
	cam.cert_mud_url = "https://mud.example/thermo.json";
	assert_int_equal(decide(*state, &cam, "telemetry.example", NULL),
			 POLICY_ALLOW);
	cam.cert_mud_url = "https://mud.example/broken.json";
	assert_int_equal(decide(*state, &cam, "telemetry.example", &d),
			 POLICY_BLOCK);
	assert_non_null(strstr(d.reason, "not usable"));
}

static void generations_and_unknown_profiles(void **state)
{
	struct world *w = *state;
	char err[256];
	struct policy_facts none = { 0 };
	struct policy *p2 = policy_build(&w->conf, w->lists, &none, err,
					 sizeof(err));
	assert_non_null(p2);
	assert_true(policy_generation(p2) != policy_generation(w->p));
	assert_int_equal(policy_block_rcode(p2), 3);
	policy_unref(p2);
	free(w->conf.clients[1].profile);
	w->conf.clients[1].profile = strdup("missing");
	assert_null(policy_build(&w->conf, w->lists, &none, err, sizeof(err)));
	assert_non_null(strstr(err, "missing"));
	free(w->conf.clients[1].profile);
	w->conf.clients[1].profile = strdup("byod");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_profile_allows_everything),
		cmocka_unit_test(blocklist_subtree_and_exceptions),
		cmocka_unit_test(stored_profile_and_client_id),
		cmocka_unit_test(mud_binding_confines),
		cmocka_unit_test(mud_missing_pending_or_unknown),
		cmocka_unit_test(generations_and_unknown_profiles),
	};
	if (sodium_init() < 0)
		return 1;
	util_hash_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
