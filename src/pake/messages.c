/*  anchord - pake/messages.c: status texts. */
#include "internal.h"

const char *pake_strerror(int status)
{
	switch (status) {
	case PAKE_OK:
		return "success";
	case PAKE_ERR_MALFORMED:
		return "malformed message";
	case PAKE_ERR_AUTH:
		return "authentication failed";
	case PAKE_ERR_INVALID:
		return "invalid argument";
	case PAKE_ERR_RESOURCE:
		return "out of memory for the key-stretching function";
	default:
		return "unknown status";
	}
}
