/*  anchord - brski/internal.h: what the files of brski/ share. */
#pragma once

#include "brski/brski.h"

#include <libtasn1.h>
#include <stdarg.h>

/** The CMS subset of cms.asn, for libtasn1 (cms_asn1_tab.c). */
extern const asn1_static_node brski_cms_asn1_tab[];

/** snprintf into err when err is not NULL; returns -1 for tail calls. */
int brski_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Copies len bytes into a malloc'd blob (one NUL byte more, so that text
 *  can be used as a C string). Returns 0, or -1 when out of memory. */
int brski_blob_set(struct brski_blob *b, const void *data, size_t len);
