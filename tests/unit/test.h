/*  anchord - tests/unit/test.h: shared helpers for the cmocka unit tests. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* Build a query in wire format: header, one question, optional OPT. */
static inline size_t test_query(uint8_t *buf, const char *name, uint16_t type,
				uint16_t flags, int edns_udp)
{
	size_t p = 12;
	memset(buf, 0, 12);
	buf[0] = 0x12;
	buf[1] = 0x34;
	buf[2] = (uint8_t)(flags >> 8);
	buf[3] = (uint8_t)flags;
	buf[5] = 1;
	const char *s = name;
	while (*s && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		buf[p++] = (uint8_t)n;
		memcpy(buf + p, s, n);
		p += n;
		s += n + (dot ? 1 : 0);
	}
	buf[p++] = 0;
	buf[p++] = (uint8_t)(type >> 8);
	buf[p++] = (uint8_t)type;
	buf[p++] = 0;
	buf[p++] = 1;
	if (edns_udp > 0) {
		buf[11] = 1;
		uint8_t opt[11] = { 0, 0, 41, (uint8_t)(edns_udp >> 8),
				    (uint8_t)edns_udp, 0, 0, 0, 0, 0, 0 };
		memcpy(buf + p, opt, sizeof(opt));
		p += sizeof(opt);
	}
	return p;
}

static inline uint16_t test_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
