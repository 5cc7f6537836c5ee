/*  anchord - pake/messages.c: status texts and the length-checked copies
 *  that turn received bytes into message structs. Element validation is
 *  left to the code that uses each element, where libsodium does it as
 *  part of the scalar multiplication.
 */
#include "internal.h"

#include <string.h>

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

static int load(uint8_t *dst, size_t size, const uint8_t *buf, size_t len)
{
	if (len != size || !buf)
		return PAKE_ERR_MALFORMED;
	memcpy(dst, buf, size);
	return PAKE_OK;
}

int pake_opaque_registration_request_from_bytes(
	struct pake_opaque_registration_request *msg, const uint8_t *buf,
	size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_opaque_registration_response_from_bytes(
	struct pake_opaque_registration_response *msg, const uint8_t *buf,
	size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_opaque_registration_record_from_bytes(
	struct pake_opaque_registration_record *msg, const uint8_t *buf,
	size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_opaque_ke1_from_bytes(struct pake_opaque_ke1 *msg, const uint8_t *buf,
			       size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_opaque_ke2_from_bytes(struct pake_opaque_ke2 *msg, const uint8_t *buf,
			       size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_opaque_ke3_from_bytes(struct pake_opaque_ke3 *msg, const uint8_t *buf,
			       size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_cpace_message_from_bytes(struct pake_cpace_message *msg,
				  const uint8_t *buf, size_t len)
{
	return load(msg->bytes, sizeof(msg->bytes), buf, len);
}

int pake_cpace_tag_from_bytes(struct pake_cpace_tag *tag, const uint8_t *buf,
			      size_t len)
{
	return load(tag->bytes, sizeof(tag->bytes), buf, len);
}
