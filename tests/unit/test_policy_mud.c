/*  anchord - unit tests of policy/mud.c and mud_verify.c: MUD files.
 *
 *  The files come from $ANCHORD_SRCDIR (the repository root, "." when
 *  unset): tests/vectors/mud-example.json, the NIST corpus in
 *  tests/mud/corpus, and the signatures and certificates that
 *  tests/mud/make_fixtures.sh made in tests/mud/fixtures.
 */
#include "test.h"

#include "policy/policy.h"

#include <dirent.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#define EXAMPLE_URL "https://mud.example-sensors.com/t1/thermo-t1.json"

static char err[1024];

/* ------------------------------------------------------------------ helpers */

static const char *src_path(const char *relative)
{
	static char path[1024];
	const char *top = getenv("ANCHORD_SRCDIR");
	snprintf(path, sizeof(path), "%s/%s", top ? top : ".", relative);
	return path;
}

static uint8_t *read_src(const char *relative, size_t *len)
{
	uint8_t *data;
	if (util_read_file(src_path(relative), 4 << 20, &data, len) != 0)
		fail_msg("cannot read %s", src_path(relative));
	return data;
}

static struct policy_mud *parse_text(const char *json, const char *url)
{
	return policy_mud_parse((const uint8_t *)json, strlen(json), url, err,
				sizeof(err));
}

static void expect_rejected(const char *json, const char *reason)
{
	struct policy_mud *m = parse_text(json, NULL);
	if (m)
		fail_msg("accepted, expected \"%s\"", reason);
	if (!strstr(err, reason))
		fail_msg("error \"%s\" lacks \"%s\"", err, reason);
}

static bool has_warning(const struct policy_mud *m, const char *part)
{
	for (size_t i = 0; i < m->n_warnings; i++)
		if (strstr(m->warnings[i], part))
			return true;
	return false;
}

static bool has_name(const struct policy_mud *m, const char *name)
{
	for (size_t i = 0; i < m->n_names; i++)
		if (strcmp(m->names[i], name) == 0)
			return true;
	return false;
}

/* The example as a jansson tree, to be changed by a test. */
static json_t *example(void)
{
	json_error_t jerr;
	const char *path = src_path("tests/vectors/mud-example.json");
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root)
		fail_msg("mud-example.json: %s", jerr.text);
	return root;
}

static json_t *mud_of(json_t *root)
{
	return json_object_get(root, "ietf-mud:mud");
}

/* ACE ace of ACL acl of the example, by index. */
static json_t *ace_of(json_t *root, size_t acl, size_t ace)
{
	json_t *acls = json_object_get(root, "ietf-access-control-list:acls");
	json_t *a = json_array_get(json_object_get(acls, "acl"), acl);
	return json_array_get(json_object_get(json_object_get(a, "aces"),
					      "ace"), ace);
}

static json_t *ipv4_of(json_t *root, size_t acl, size_t ace)
{
	return json_object_get(json_object_get(ace_of(root, acl, ace),
					       "matches"), "ipv4");
}

/* Parse a changed tree (and free it). */
static struct policy_mud *parse_tree(json_t *root)
{
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_non_null(text);
	struct policy_mud *m = parse_text(text, NULL);
	free(text);
	return m;
}

static void expect_tree_rejected(json_t *root, const char *reason)
{
	struct policy_mud *m = parse_tree(root);
	if (m)
		fail_msg("accepted, expected \"%s\"", reason);
	if (!strstr(err, reason))
		fail_msg("error \"%s\" lacks \"%s\"", err, reason);
}

static struct policy_mud *expect_tree_accepted(json_t *root)
{
	struct policy_mud *m = parse_tree(root);
	if (!m)
		fail_msg("rejected: %s", err);
	return m;
}

/* ------------------------------------------------------------------ parsing */

static void example_gives_two_names(void **state)
{
	size_t len;
	uint8_t *json = read_src("tests/vectors/mud-example.json", &len);
	struct policy_mud *m = policy_mud_parse(json, len, EXAMPLE_URL, err,
						sizeof(err));
	if (!m)
		fail_msg("%s", err);
	assert_string_equal(m->mud_url, EXAMPLE_URL);
	assert_string_equal(m->signature_url,
			    "https://mud.example-sensors.com/t1/thermo-t1.p7s");
	assert_string_equal(m->last_update, "2025-06-02T09:30:00+00:00");
	assert_int_equal(m->cache_validity_hours, 48);
	assert_true(m->is_supported);
	assert_string_equal(m->systeminfo,
			    "Example Sensors T1 wireless thermometer");
	assert_string_equal(m->mfg_name, "Example Sensors");
	assert_string_equal(m->model_name, "T1");
	assert_int_equal(m->n_names, 2);
	assert_string_equal(m->names[0], "telemetry.example-sensors.com");
	assert_string_equal(m->names[1], "firmware.example-sensors.com");
	assert_int_equal(m->n_warnings, 0);
	policy_mud_free(m);
	free(json);
}

static void url_must_be_where_the_file_came_from(void **state)
{
	size_t len;
	uint8_t *json = read_src("tests/vectors/mud-example.json", &len);
	const char *other = "https://mud.example-sensors.com/t2/thermo-t2.json";
	assert_null(policy_mud_parse(json, len, other, err, sizeof(err)));
	assert_non_null(strstr(err, "mud-url is " EXAMPLE_URL));
	assert_non_null(strstr(err, "fetched from https://mud.example-sensors"
				    ".com/t2/thermo-t2.json"));
	free(json);

	json_t *root = example();
	json_object_set_new(mud_of(root), "mud-url",
			    json_string("http://mud.example-sensors.com/t1"));
	expect_tree_rejected(root, "is not an https URL");
	root = example();
	json_object_set_new(mud_of(root), "mud-signature",
			    json_string("ftp://mud.example-sensors.com/t.p7s"));
	expect_tree_rejected(root, "mud-signature \"ftp://");
}

static int corpus_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static void every_corpus_file_parses(void **state)
{
	struct dirent **files;
	int n = scandir(src_path("tests/mud/corpus"), &files, corpus_file,
			alphasort);
	assert_int_equal(n, 36);
	for (int i = 0; i < n; i++) {
		char rel[512];
		snprintf(rel, sizeof(rel), "tests/mud/corpus/%s",
			 files[i]->d_name);
		size_t len;
		uint8_t *json = read_src(rel, &len);
		struct policy_mud *m = policy_mud_parse(json, len, NULL, err,
							sizeof(err));
		if (!m)
			fail_msg("%s: %s", files[i]->d_name, err);
		print_message("%s: %zu names\n", files[i]->d_name, m->n_names);
		for (size_t w = 0; w < m->n_warnings; w++)
			print_message("    warning: %s\n", m->warnings[w]);
		policy_mud_free(m);
		free(json);
		free(files[i]);
	}
	free(files);
}

static struct policy_mud *corpus(const char *name)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "tests/mud/corpus/%s", name);
	size_t len;
	uint8_t *json = read_src(rel, &len);
	struct policy_mud *m = policy_mud_parse(json, len, NULL, err,
						sizeof(err));
	free(json);
	if (!m)
		fail_msg("%s: %s", name, err);
	return m;
}

static void corpus_drafts_are_read_with_warnings(void **state)
{
	/* A NIST profile: draft container and ACL type, a name in capitals. */
	struct policy_mud *m = corpus("profile-SmartThingsMud.json");
	assert_string_equal(m->mud_url, "https://smartthings.com/smartthings");
	assert_int_equal(m->cache_validity_hours, 100);
	assert_true(has_name(m, "pool.ntp.org"));
	assert_true(has_name(m, "dc.connect.smartthings.com"));
	assert_true(has_warning(m, "\"ietf-access-control-list:"
				   "access-lists\""));
	policy_mud_free(m);

	m = corpus("profile-amazonEchoMud.json");
	assert_true(has_warning(m, "\"ethernet-acl-type\""));
	assert_int_equal(m->n_names, 22);
	policy_mud_free(m);

	/* Duplicated names across the v4 and v6 ACLs come once. */
	m = corpus("profile-chromecastMud.json");
	assert_int_equal(m->n_names, 34);
	policy_mud_free(m);

	m = corpus("unittest-mud-quarantine-test-mudfile.json");
	assert_int_equal(m->n_warnings, 1);
	assert_true(has_warning(m, "nist-mud:quarantined-device-policy"));
	policy_mud_free(m);

	m = corpus("unittest-mudfile-sensor.json");
	assert_int_equal(m->n_warnings, 0);
	assert_non_null(m->signature_url);
	policy_mud_free(m);
}

static void mandatory_fields(void **state)
{
	static const char *const fields[] = { "mud-version", "mud-url",
					      "last-update", "is-supported" };
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_t *root = example();
		json_object_del(mud_of(root), fields[i]);
		char reason[64];
		snprintf(reason, sizeof(reason), "%s is missing", fields[i]);
		expect_tree_rejected(root, reason);
	}
	/* The optional ones may go. */
	json_t *root = example();
	static const char *const optional[] = {
		"mud-signature", "cache-validity", "systeminfo", "mfg-name",
		"model-name", "documentation", "to-device-policy",
	};
	for (size_t i = 0; i < ARRAY_SIZE(optional); i++)
		json_object_del(mud_of(root), optional[i]);
	struct policy_mud *m = expect_tree_accepted(root);
	assert_null(m->signature_url);
	assert_null(m->systeminfo);
	assert_int_equal(m->cache_validity_hours, 48);
	assert_int_equal(m->n_names, 2);
	policy_mud_free(m);
}

static void wrong_header_values(void **state)
{
	json_t *root = example();
	json_object_set_new(mud_of(root), "mud-version", json_integer(2));
	expect_tree_rejected(root, "mud-version is 2");
	root = example();
	json_object_set_new(mud_of(root), "mud-version", json_string("1"));
	expect_tree_rejected(root, "mud-version must be the number 1");
	root = example();
	json_object_set_new(mud_of(root), "is-supported", json_string("yes"));
	expect_tree_rejected(root, "is-supported must be true or false");
	root = example();
	json_object_set_new(mud_of(root), "last-update",
			    json_string("June 2nd, 2025"));
	expect_tree_rejected(root, "last-update \"June 2nd, 2025\"");
	root = example();
	json_object_set_new(mud_of(root), "last-update",
			    json_string("2025-06-02T09:30:00.25Z"));
	policy_mud_free(expect_tree_accepted(root));
	root = example();
	json_object_set_new(mud_of(root), "systeminfo", json_integer(7));
	expect_tree_rejected(root, "systeminfo must be a string");
}

static void cache_validity_range(void **state)
{
	static const int bad[] = { 0, 169, 200, -1 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *root = example();
		json_object_set_new(mud_of(root), "cache-validity",
				    json_integer(bad[i]));
		expect_tree_rejected(root, "RFC 8520 allows 1 to 168");
	}
	json_t *root = example();
	json_object_set_new(mud_of(root), "cache-validity", json_string("48"));
	expect_tree_rejected(root, "cache-validity must be a number");
	static const int good[] = { 1, 168 };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		root = example();
		json_object_set_new(mud_of(root), "cache-validity",
				    json_integer(good[i]));
		struct policy_mud *m = expect_tree_accepted(root);
		assert_int_equal(m->cache_validity_hours, good[i]);
		policy_mud_free(m);
	}
}

static void referenced_acls_must_exist(void **state)
{
	static const char *const policies[] = { "from-device-policy",
						"to-device-policy" };
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		json_t *root = example();
		json_t *list = json_object_get(json_object_get(
			json_object_get(mud_of(root), policies[i]),
			"access-lists"), "access-list");
		json_object_set_new(json_array_get(list, 1), "name",
				    json_string("mud-t1-gone"));
		char reason[128];
		snprintf(reason, sizeof(reason),
			 "acl 'mud-t1-gone' named by %s does not exist",
			 policies[i]);
		expect_tree_rejected(root, reason);
	}
	/* No ACL container at all. */
	json_t *root = example();
	json_object_del(root, "ietf-access-control-list:acls");
	expect_tree_rejected(root, "acl 'mud-t1-v4fr' named by "
				   "from-device-policy does not exist");
	/* Two ACLs of one name. */
	root = example();
	json_t *acls = json_object_get(json_object_get(
		root, "ietf-access-control-list:acls"), "acl");
	json_object_set_new(json_array_get(acls, 1), "name",
			    json_string("mud-t1-v4fr"));
	expect_tree_rejected(root, "two ACLs are named 'mud-t1-v4fr'");
}

static void names_are_normalized_and_checked(void **state)
{
	json_t *root = example();
	json_object_set_new(ipv4_of(root, 0, 0), "ietf-acldns:dst-dnsname",
			    json_string("Telemetry.Example-Sensors.COM."));
	struct policy_mud *m = expect_tree_accepted(root);
	assert_int_equal(m->n_names, 2);
	assert_string_equal(m->names[0], "telemetry.example-sensors.com");
	policy_mud_free(m);

	static const struct {
		const char *name, *reason;
	} bad[] = {
		{ "exa mple.com", "character other than" },
		{ "*.example.com", "wildcards" },
		{ "192.168.7.7", "an address" },
		{ "a..example.com", "empty label" },
		{ "-a.example.com", "begins or ends with '-'" },
		{ "", "empty" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaa.example.com", "longer than 63" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		root = example();
		json_object_set_new(ipv4_of(root, 0, 1),
				    "ietf-acldns:dst-dnsname",
				    json_string(bad[i].name));
		expect_tree_rejected(root, bad[i].reason);
	}
	/* A bad name in a to-device ACL is refused as well. */
	root = example();
	json_object_set_new(ipv4_of(root, 1, 0), "ietf-acldns:src-dnsname",
			    json_string("bad_name.example.com"));
	expect_tree_rejected(root, "acl 'mud-t1-v4to' ace 'cl0-todev'");
	root = example();
	json_object_set_new(ipv4_of(root, 0, 0), "ietf-acldns:dst-dnsname",
			    json_integer(5));
	expect_tree_rejected(root, "must be a string");
}

static void only_accepting_from_device_aces_give_names(void **state)
{
	/* A dropped name is not allowed; a name that only the to-device
	 * ACLs carry is not either. */
	json_t *root = example();
	json_object_set_new(json_object_get(ace_of(root, 0, 1), "actions"),
			    "forwarding", json_string("drop"));
	json_object_set_new(ipv4_of(root, 1, 2), "ietf-acldns:src-dnsname",
			    json_string("only-to.example-sensors.com"));
	json_object_set_new(json_object_get(ace_of(root, 2, 1), "matches"),
			    "ipv6", json_pack("{s:s}",
					      "ietf-acldns:src-dnsname",
					      "v6.example-sensors.com"));
	struct policy_mud *m = expect_tree_accepted(root);
	assert_int_equal(m->n_names, 2);
	assert_string_equal(m->names[0], "telemetry.example-sensors.com");
	assert_string_equal(m->names[1], "v6.example-sensors.com");
	policy_mud_free(m);

	/* Identities may carry their module's name (RFC 7951). */
	root = example();
	json_object_set_new(json_object_get(ace_of(root, 0, 0), "actions"),
			    "forwarding",
			    json_string("ietf-access-control-list:accept"));
	m = expect_tree_accepted(root);
	assert_int_equal(m->n_names, 2);
	assert_int_equal(m->n_warnings, 0);
	policy_mud_free(m);
}

static void unclear_aces_are_refused(void **state)
{
	json_t *root = example();
	json_object_set_new(json_object_get(ace_of(root, 0, 0), "actions"),
			    "forwarding", json_string("permit"));
	expect_tree_rejected(root, "forwarding \"permit\" is not accept");
	root = example();
	json_object_del(ace_of(root, 0, 0), "actions");
	expect_tree_rejected(root, "acl 'mud-t1-v4fr' ace 'cl0-frdev' has no "
				   "actions/forwarding");
	root = example();
	json_object_set_new(ipv4_of(root, 0, 0), "ietf-acldns:dst-dns-name",
			    json_string("extra.example-sensors.com"));
	expect_tree_rejected(root, "\"ietf-acldns:dst-dns-name\", which is "
				   "not ietf-acldns:dst-dnsname");
	root = example();
	json_object_set_new(json_object_get(json_object_get(
		ace_of(root, 0, 0), "matches"), "tcp"),
		"ietf-acldns:dst-dnsname", json_string("x.example.com"));
	expect_tree_rejected(root, "is under matches/tcp");
	root = example();
	json_object_del(ace_of(root, 0, 0), "name");
	expect_tree_rejected(root, "acl 'mud-t1-v4fr': an ace has no name");
	root = example();
	json_t *acl0 = json_array_get(json_object_get(json_object_get(
		root, "ietf-access-control-list:acls"), "acl"), 0);
	json_object_set_new(acl0, "type", json_string("ipx-acl-type"));
	expect_tree_rejected(root, "type \"ipx-acl-type\" is not an RFC 8519");
}

static void draft_names_are_read_with_a_warning(void **state)
{
	json_t *root = example();
	json_t *acls = json_object_get(root, "ietf-access-control-list:acls");
	json_object_set(root, "ietf-access-control-list:access-lists", acls);
	json_object_del(root, "ietf-access-control-list:acls");
	json_t *acl0 = json_array_get(json_object_get(acls, "acl"), 0);
	json_object_set_new(acl0, "type", json_string("ethernet-acl-type"));
	struct policy_mud *m = expect_tree_accepted(root);
	assert_int_equal(m->n_names, 2);
	assert_int_equal(m->n_warnings, 2);
	assert_true(has_warning(m, "access-lists"));
	assert_true(has_warning(m, "ethernet-acl-type"));
	policy_mud_free(m);

	/* Both containers: which one counts is not clear. */
	root = example();
	acls = json_object_get(root, "ietf-access-control-list:acls");
	json_object_set(root, "ietf-access-control-list:access-lists", acls);
	expect_tree_rejected(root, "which one holds the ACLs is unclear");
}

static void unknown_nodes_are_flagged_once_each(void **state)
{
	json_t *root = example();
	json_object_set_new(root, "vendor:extra", json_pack("{s:i}", "a", 1));
	json_object_set_new(mud_of(root), "vendor:ext", json_pack("{s:i}", "a",
								 1));
	struct policy_mud *m = expect_tree_accepted(root);
	assert_int_equal(m->n_warnings, 2);
	assert_true(has_warning(m, "unknown top-level node \"vendor:extra\""));
	assert_true(has_warning(m, "unknown node \"vendor:ext\" in "
				   "ietf-mud:mud"));
	policy_mud_free(m);

	/* A flood of them is cut short. */
	root = example();
	for (int i = 0; i < 100; i++) {
		char key[32];
		snprintf(key, sizeof(key), "vendor:x%d", i);
		json_object_set_new(root, key, json_null());
	}
	m = expect_tree_accepted(root);
	assert_int_equal(m->n_warnings, 16);
	assert_string_equal(m->warnings[15], "... and 85 more warnings");
	policy_mud_free(m);
}

static void not_mud_files(void **state)
{
	expect_rejected("", "not JSON");
	expect_rejected("not json", "not JSON");
	expect_rejected("{\"ietf-mud:mud\": {", "not JSON");
	expect_rejected("[]", "the top level is not a JSON object");
	expect_rejected("42", "not JSON");	/* jansson wants a container */
	expect_rejected("{}", "no \"ietf-mud:mud\" container");
	expect_rejected("{\"ietf-mud:mud\": []}", "must be an object");
	expect_rejected("{\"a\": 1, \"a\": 2}", "duplicate");
	expect_rejected("{\"ietf-mud:mud\": {\"mud-version\": 1, "
			"\"mud-version\": 1}}", "duplicate");
	/* NUL inside a string, and raw bytes that are not UTF-8. */
	static const char nul[] = "{\"ietf-mud:mud\\u0000\": {}}";
	expect_rejected(nul, "not JSON");
	expect_rejected("{\"\xff\": 1}", "not JSON");

	/* Half a file. */
	size_t len;
	uint8_t *json = read_src("tests/vectors/mud-example.json", &len);
	assert_null(policy_mud_parse(json, len / 2, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not JSON"));
	free(json);
}

static char *nested(size_t depth, const char *around)
{
	size_t len = strlen(around) + 2 * depth + 1;
	char *text = malloc(len);
	assert_non_null(text);
	const char *hole = strchr(around, '@');
	size_t before = (size_t)(hole - around);
	memcpy(text, around, before);
	memset(text + before, '[', depth);
	memset(text + before + depth, ']', depth);
	strcpy(text + before + 2 * depth, hole + 1);
	return text;
}

static void deep_nesting(void **state)
{
	char *text = nested(100000, "@");
	expect_rejected(text, "not JSON");
	free(text);
	/* Within jansson's limit, in a node nobody reads: a warning. */
	size_t len;
	uint8_t *json = read_src("tests/vectors/mud-example.json", &len);
	char around[16384];
	snprintf(around, sizeof(around), "{\"vendor:deep\": @, %s",
		 (const char *)json + 1);
	free(json);
	text = nested(1000, around);
	struct policy_mud *m = parse_text(text, NULL);
	free(text);
	if (!m)
		fail_msg("%s", err);
	assert_true(has_warning(m, "vendor:deep"));
	policy_mud_free(m);
}

static void too_large(void **state)
{
	size_t len = 2 << 20;
	uint8_t *big = malloc(len);
	assert_non_null(big);
	memset(big, ' ', len);
	assert_null(policy_mud_parse(big, len, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "bytes"));
	free(big);
}

/* ------------------------------------------------------------------ signatures */

#define FIXTURE(name) "tests/mud/fixtures/" name

static struct policy_mud_signers *signers(const char *a, const char *b)
{
	char pa[1024], pb[1024];
	snprintf(pa, sizeof(pa), "%s", src_path(a));
	if (b)
		snprintf(pb, sizeof(pb), "%s", src_path(b));
	char *files[] = { pa, pb };
	struct policy_mud_signers *s =
		policy_mud_signers_load(files, b ? 2 : 1, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	return s;
}

/* Verify a fixture signature over the signed file (changed at flip when
 * flip >= 0); returns what policy_mud_verify does. */
static int verify_fixture(const struct policy_mud_signers *s,
			  const char *p7s_name, long flip,
			  const gnutls_datum_t *required, char *signer,
			  size_t signer_cap)
{
	size_t file_len, p7s_len;
	uint8_t *file = read_src(FIXTURE("signed.json"), &file_len);
	char rel[256];
	snprintf(rel, sizeof(rel), FIXTURE("%s"), p7s_name);
	uint8_t *p7s = read_src(rel, &p7s_len);
	if (flip >= 0)
		file[flip] ^= 0x01;
	int ret = policy_mud_verify(s, file, file_len, p7s, p7s_len,
				    required ? required->data : NULL,
				    required ? required->size : 0, signer,
				    signer_cap, err, sizeof(err));
	free(file);
	free(p7s);
	return ret;
}

static void expect_verify_fails(const struct policy_mud_signers *s,
				const char *p7s_name, long flip,
				const gnutls_datum_t *required,
				const char *reason)
{
	if (verify_fixture(s, p7s_name, flip, required, NULL, 0) == 0)
		fail_msg("%s verified, expected \"%s\"", p7s_name, reason);
	if (!strstr(err, reason))
		fail_msg("%s: error \"%s\" lacks \"%s\"", p7s_name, err,
			 reason);
}

/* The DER subject of a fixture certificate. */
static gnutls_datum_t subject_of(const char *pem_name)
{
	gnutls_datum_t pem, dn;
	gnutls_x509_crt_t crt;
	assert_int_equal(gnutls_load_file(src_path(pem_name), &pem), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM),
			 0);
	assert_int_equal(gnutls_x509_crt_get_raw_dn(crt, &dn), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
	return dn;
}

static void fixtures_sign_the_example(void **state)
{
	/* The signatures are over the very bytes of the shared example. */
	size_t a_len, b_len;
	uint8_t *a = read_src("tests/vectors/mud-example.json", &a_len);
	uint8_t *b = read_src(FIXTURE("signed.json"), &b_len);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len);
	free(a);
	free(b);
}

static void signers_load(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"),
					       FIXTURE("other-ca.pem"));
	assert_int_equal(policy_mud_signers_count(s), 2);
	policy_mud_signers_free(s);

	char missing[1024];
	snprintf(missing, sizeof(missing), "%s", src_path(FIXTURE("none.pem")));
	char *files[] = { missing };
	assert_null(policy_mud_signers_load(files, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "none.pem: No such file"));
	char json[1024];
	snprintf(json, sizeof(json), "%s", src_path(FIXTURE("signed.json")));
	files[0] = json;
	assert_null(policy_mud_signers_load(files, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "signed.json: no PEM certificate"));

	s = policy_mud_signers_load(NULL, 0, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(policy_mud_signers_count(s), 0);
	expect_verify_fails(s, "good.p7s", -1, NULL, "no MUD signers");
	policy_mud_signers_free(s);
}

static void good_signatures_verify(void **state)
{
	static const char *const good[] = { "good.p7s", "good-sha256.p7s",
					    "good-keyid.p7s" };
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char signer[256] = "unset";
		if (verify_fixture(s, good[i], -1, NULL, signer,
				   sizeof(signer)) != 0)
			fail_msg("%s: %s", good[i], err);
		assert_string_equal(signer, "CN=Example Sensors MUD signer,"
					    "O=Example Sensors");
	}
	policy_mud_signers_free(s);

	/* Trusting the intermediate, or the signer itself, works too. */
	s = signers(FIXTURE("inter.pem"), NULL);
	assert_int_equal(verify_fixture(s, "good.p7s", -1, NULL, NULL, 0), 0);
	policy_mud_signers_free(s);
	s = signers(FIXTURE("signer.pem"), NULL);
	assert_int_equal(verify_fixture(s, "good.p7s", -1, NULL, NULL, 0), 0);
	/* Only such a verifier can check a signature without the signer. */
	if (verify_fixture(s, "nocerts.p7s", -1, NULL, NULL, 0) != 0)
		fail_msg("nocerts.p7s: %s", err);
	policy_mud_signers_free(s);
	s = signers(FIXTURE("ca.pem"), NULL);
	expect_verify_fails(s, "nocerts.p7s", -1, NULL,
			    "neither in the signature nor among the trusted");
	policy_mud_signers_free(s);
}

static void changed_file_fails(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	expect_verify_fails(s, "good.p7s", 0, NULL,
			    "signature does not verify");
	expect_verify_fails(s, "good.p7s", 4000, NULL,
			    "signature does not verify");
	expect_verify_fails(s, "good-sha256.p7s", 8361, NULL,
			    "signature does not verify");
	policy_mud_signers_free(s);
	/* The same when the signer is trusted itself and not carried. */
	s = signers(FIXTURE("signer.pem"), NULL);
	expect_verify_fails(s, "nocerts.p7s", 100, NULL,
			    "signature does not verify");
	policy_mud_signers_free(s);
}

static void untrusted_signer_fails(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	expect_verify_fails(s, "untrusted.p7s", -1, NULL,
			    "signer CN=untrusted MUD signer,O=Somebody Else "
			    "not trusted");
	policy_mud_signers_free(s);
	/* Trusted once its root is among the signers. */
	s = signers(FIXTURE("ca.pem"), FIXTURE("other-ca.pem"));
	assert_int_equal(verify_fixture(s, "untrusted.p7s", -1, NULL, NULL, 0),
			 0);
	policy_mud_signers_free(s);
}

static void expired_signer_fails(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	expect_verify_fails(s, "expired.p7s", -1, NULL,
			    "signer CN=Example Sensors old signer,O=Example "
			    "Sensors not trusted: The certificate chain uses "
			    "expired certificate.");
	policy_mud_signers_free(s);
}

static void signer_must_allow_digital_signature(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	expect_verify_fails(s, "nods.p7s", -1, NULL,
			    "keyUsage lacks digitalSignature");
	policy_mud_signers_free(s);
}

static void required_signer(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"),
					       FIXTURE("other-ca.pem"));
	gnutls_datum_t mine = subject_of(FIXTURE("signer.pem"));
	gnutls_datum_t theirs = subject_of(FIXTURE("other-signer.pem"));
	assert_int_equal(verify_fixture(s, "good.p7s", -1, &mine, NULL, 0), 0);
	expect_verify_fails(s, "untrusted.p7s", -1, &mine,
			    "signer is CN=untrusted MUD signer,O=Somebody "
			    "Else, the device requires CN=Example Sensors MUD "
			    "signer,O=Example Sensors");
	expect_verify_fails(s, "good.p7s", -1, &theirs, "the device requires "
			    "CN=untrusted MUD signer");
	gnutls_free(mine.data);
	gnutls_free(theirs.data);
	policy_mud_signers_free(s);
}

static void garbage_signatures_fail(void **state)
{
	struct policy_mud_signers *s = signers(FIXTURE("ca.pem"), NULL);
	size_t file_len, p7s_len;
	uint8_t *file = read_src(FIXTURE("signed.json"), &file_len);
	uint8_t *p7s = read_src(FIXTURE("good.p7s"), &p7s_len);
	const struct {
		const uint8_t *data;
		size_t len;
		const char *reason;
	} bad[] = {
		{ (const uint8_t *)"", 0, "not a CMS SignedData" },
		{ (const uint8_t *)"hello", 5, "not a CMS SignedData" },
		{ file, file_len, "not a CMS SignedData" },
		{ (const uint8_t *)"-----BEGIN PKCS7-----\nMIIB\n", 27,
		  "the signature is PEM" },
		{ p7s, p7s_len / 2, "not a CMS SignedData" },
		{ p7s + 1, p7s_len - 1, "not a CMS SignedData" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(policy_mud_verify(s, file, file_len,
						   bad[i].data, bad[i].len,
						   NULL, 0, NULL, 0, err,
						   sizeof(err)), -1);
		if (!strstr(err, bad[i].reason))
			fail_msg("%zu: error \"%s\" lacks \"%s\"", i, err,
				 bad[i].reason);
	}
	/* Every byte changed in turn, for the sanitizers and valgrind: some
	 * bytes are not covered by any signature (the outer digest algorithm
	 * list, say), so a change there may still verify, and that is fine;
	 * what must not happen is a crash or a leak. */
	size_t accepted = 0;
	for (size_t i = 0; i < p7s_len; i++) {
		p7s[i] ^= 0x5a;
		accepted += policy_mud_verify(s, file, file_len, p7s, p7s_len,
					      NULL, 0, NULL, 0, err,
					      sizeof(err)) == 0;
		p7s[i] ^= 0x5a;
	}
	print_message("%zu of %zu changed bytes still verify\n", accepted,
		      p7s_len);
	free(file);
	free(p7s);
	policy_mud_signers_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_gives_two_names),
		cmocka_unit_test(url_must_be_where_the_file_came_from),
		cmocka_unit_test(every_corpus_file_parses),
		cmocka_unit_test(corpus_drafts_are_read_with_warnings),
		cmocka_unit_test(mandatory_fields),
		cmocka_unit_test(wrong_header_values),
		cmocka_unit_test(cache_validity_range),
		cmocka_unit_test(referenced_acls_must_exist),
		cmocka_unit_test(names_are_normalized_and_checked),
		cmocka_unit_test(only_accepting_from_device_aces_give_names),
		cmocka_unit_test(unclear_aces_are_refused),
		cmocka_unit_test(draft_names_are_read_with_a_warning),
		cmocka_unit_test(unknown_nodes_are_flagged_once_each),
		cmocka_unit_test(not_mud_files),
		cmocka_unit_test(deep_nesting),
		cmocka_unit_test(too_large),
		cmocka_unit_test(fixtures_sign_the_example),
		cmocka_unit_test(signers_load),
		cmocka_unit_test(good_signatures_verify),
		cmocka_unit_test(changed_file_fails),
		cmocka_unit_test(untrusted_signer_fails),
		cmocka_unit_test(expired_signer_fails),
		cmocka_unit_test(signer_must_allow_digital_signature),
		cmocka_unit_test(required_signer),
		cmocka_unit_test(garbage_signatures_fail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
