/*  anchord - tests/unit/pake_vectors.h: reading the PAKE test vectors.
 *
 *  The JSON files live in $ANCHORD_SRCDIR/tests/vectors/ (the Makefile's
 *  check-unit sets ANCHORD_SRCDIR; "." otherwise). Hex members are decoded
 *  into an arena that each test resets, so a test can hold many values
 *  without bookkeeping.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pake/pake.h"

#define VEC_ARENA_BYTES 65536

static uint8_t vec_arena[VEC_ARENA_BYTES];
static size_t vec_arena_used;

/** Load tests/vectors/@name; fails the test when it cannot. */
static inline json_t *vec_load(const char *name)
{
	const char *dir = getenv("ANCHORD_SRCDIR");
	char path[4096];
	json_error_t err;
	json_t *root;

	snprintf(path, sizeof(path), "%s/tests/vectors/%s", dir ? dir : ".",
		 name);
	root = json_load_file(path, 0, &err);
	if (!root)
		fail_msg("%s: %s (line %d)", path, err.text, err.line);
	vec_arena_used = 0;
	return root;
}

/** One step of a path: an object member, or an array index. */
static inline json_t *vec_step(json_t *obj, const char *key)
{
	if (json_is_array(obj))
		return json_array_get(obj, strtoul(key, NULL, 10));
	return json_object_get(obj, key);
}

/** The member at a dotted path such as "inputs.oprf_seed" or "vectors.0". */
static inline json_t *vec_get(json_t *obj, const char *path)
{
	char key[256];
	const char *dot;
	size_t len;

	while (obj && (dot = strchr(path, '.'))) {
		len = (size_t)(dot - path);
		assert_true(len < sizeof(key));
		memcpy(key, path, len);
		key[len] = '\0';
		obj = vec_step(obj, key);
		path = dot + 1;
	}
	obj = obj ? vec_step(obj, path) : NULL;
	if (!obj)
		fail_msg("vector member %s is missing", path);
	return obj;
}

/** Decode a hex string into the arena. */
static inline struct pake_str vec_unhex(const char *hex)
{
	size_t cap = VEC_ARENA_BYTES - vec_arena_used, len = 0;
	uint8_t *out = vec_arena + vec_arena_used;

	if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL) != 0)
		fail_msg("bad hex or arena full: %.40s", hex);
	vec_arena_used += len;
	return PAKE_STR(out, len);
}

/** The hex member at @path, decoded. */
static inline struct pake_str vec_bytes(json_t *obj, const char *path)
{
	json_t *v = vec_get(obj, path);

	if (!json_is_string(v))
		fail_msg("vector member %s is not a string", path);
	return vec_unhex(json_string_value(v));
}

/** The ASCII string member at @path, as bytes (no NUL). */
static inline struct pake_str vec_ascii(json_t *obj, const char *path)
{
	const char *s = json_string_value(vec_get(obj, path));

	assert_non_null(s);
	return PAKE_STR(s, strlen(s));
}

/** Copy the hex member at @path into a fixed-size field. */
static inline void vec_fixed(json_t *obj, const char *path, void *out,
			     size_t len)
{
	struct pake_str s = vec_bytes(obj, path);

	if (s.len != len)
		fail_msg("%s: %zu bytes, expected %zu", path, s.len, len);
	memcpy(out, s.ptr, len);
}

/** Fail unless @got equals the hex member at @path, bit for bit. */
static inline void vec_check(json_t *obj, const char *path, const void *got,
			     size_t len)
{
	struct pake_str want = vec_bytes(obj, path);
	char hex[2 * 512 + 1];

	if (want.len == len && memcmp(want.ptr, got, len) == 0)
		return;
	sodium_bin2hex(hex, sizeof(hex), got, len < 512 ? len : 512);
	fail_msg("%s differs: got %zu bytes %s", path, len, hex);
}

/** Same for two byte strings already in hand. */
static inline void vec_check_str(const char *what, struct pake_str want,
				 const void *got, size_t len)
{
	if (want.len != len || memcmp(want.ptr, got, len) != 0)
		fail_msg("%s differs", what);
}

/** Run before the first test: the library leaves sodium_init() to us. */
static inline int vec_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}
