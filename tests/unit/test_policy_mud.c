/*  anchord - unit tests of policy/mud.c: MUD files.
 *
 *  The files come from $ANCHORD_SRCDIR (the repository root, "." when
 *  unset): tests/vectors/mud-example.json and the NIST corpus in
 *  tests/mud/corpus.
 */
#include "test.h"

#include "policy/policy.h"

#include <dirent.h>
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
	json_t *root = json_load_file(src_path("tests/vectors/mud-example.json"),
				      0, &jerr);
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
			    json_string("ftp://mud.example-sensors.com/t1.p7s"));
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
	assert_true(has_warning(m, "\"ietf-access-control-list:access-lists\""));
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
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaa.example.com", "longer than 63" },
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
			    "ipv6", json_pack("{s:s}", "ietf-acldns:src-dnsname",
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
