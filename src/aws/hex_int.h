/*
 * hex_int.h - one hex digit's value, for the two %XX decoders of the aws
 * layer (the SigV4 query re-encoder and the scrubber's decoding view).
 * Not part of the public API.
 */
#ifndef KNEECAP_AWS_HEX_INT_H
#define KNEECAP_AWS_HEX_INT_H

/* The value of hex digit c (either case), or -1 when c is not one. */
static inline int kc_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
