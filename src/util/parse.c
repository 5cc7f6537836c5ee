/*  anchord - util/parse.c: value types of configuration files. */
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

uint64_t util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Leading decimal digits; rejects signs, spaces and empty input. */
static int parse_digits(const char *text, uint64_t *value, const char **rest)
{
	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return -1;
	*value = v;
	*rest = end;
	return 0;
}

static int mul_checked(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b != 0 && a > UINT64_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

int util_parse_duration(const char *text, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },	   { "ms", 1 },		 { "s", 1000 },
		{ "m", 60000 },	   { "h", 3600000 },	 { "d", 86400000 },
		{ "w", 604800000 },
	};
	uint64_t v;
	const char *rest;
	if (parse_digits(text, &v, &rest) != 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(rest, units[i].suffix) == 0)
			return mul_checked(v, units[i].ms, ms);
	return -1;
}

int util_parse_size(const char *text, uint64_t *bytes)
{
	uint64_t v;
	const char *rest;
	if (parse_digits(text, &v, &rest) != 0)
		return -1;
	uint64_t mult = 1;
	switch (toupper((unsigned char)*rest)) {
	case 'K': mult = 1ULL << 10; rest++; break;
	case 'M': mult = 1ULL << 20; rest++; break;
	case 'G': mult = 1ULL << 30; rest++; break;
	default: break;
	}
	if (mult > 1 && (rest[0] == 'i' || rest[0] == 'I') &&
	    toupper((unsigned char)rest[1]) == 'B')
		rest += 2;
	else if (toupper((unsigned char)rest[0]) == 'B')
		rest++;
	if (*rest != '\0')
		return -1;
	return mul_checked(v, mult, bytes);
}

int util_parse_uint(const char *text, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	uint64_t v;
	const char *rest;
	if (parse_digits(text, &v, &rest) != 0 || *rest != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int util_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
