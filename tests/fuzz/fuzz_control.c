/*  anchord - tests/fuzz/fuzz_control.c: the control socket's line reader.
 *  The first byte picks how much each read brings; the rest is what the
 *  client sends. Each line read must be whole, end where it ended, and be
 *  at most CONTROL_MAX_LINE long; a subscriber's reader starts again. */
#include "daemon/daemon.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 97 + 1;
	struct control_line l = { .len = 0 };
	for (size_t off = 1; off < size;) {
		size_t room = CONTROL_MAX_LINE - l.len;
		size_t n = MIN(MIN(chunk, size - off), room);
		memcpy(l.buf + l.len, data + off, n);
		off += n;
		enum control_line_state st = control_line_feed(&l, n);
		if (l.len > CONTROL_MAX_LINE)
			abort();
		if (st == CONTROL_LINE_READY &&
		    (strlen(l.buf) > CONTROL_MAX_LINE ||
		     strchr(l.buf, '\n') || l.overflow))
			abort();	/* a line holds no end of line */
		if (st != CONTROL_LINE_MORE)
			l = (struct control_line){ .len = 0 };
	}
	return 0;
}
