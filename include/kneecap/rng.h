/*
 * rng.h - the one pseudorandom generator: xoshiro256** seeded through
 * splitmix64 (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", 2018; Steele, Lea & Flood, 2014).
 *
 * Small, fast and deterministic for a seed, so tests and reruns see the same
 * arrivals, service times and faults.  Static inline because Poisson
 * schedules draw from it once per arrival.  Not thread-safe: one state per
 * thread (or behind the caller's lock).
 */
#ifndef KNEECAP_RNG_H
#define KNEECAP_RNG_H

#include <stdint.h>

#include "kneecap/err.h"

struct kc_rng {
	uint64_t s[4];
};

/* One splitmix64 step: advances *x and returns a well-mixed 64-bit value. */
static inline uint64_t kc_rng_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Seeds rng deterministically from seed (any value, 0 included). */
static inline void kc_rng_seed(struct kc_rng *rng, uint64_t seed)
{
	KC_ASSERT(rng);
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = kc_rng_splitmix64(&x);
}

/* Rotates x left by k bits, 0 < k < 64 (internal to kc_rng_next). */
static inline uint64_t kc_rng_rotl_(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
static inline uint64_t kc_rng_next(struct kc_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = kc_rng_rotl_(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = kc_rng_rotl_(s[3], 45);
	return result;
}

/* A double uniform in [0, 1) from the top 53 bits of one draw. */
static inline double kc_rng_double(struct kc_rng *rng)
{
	return (double)(kc_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* A double uniform in (0, 1]: never 0, so log() is finite. */
static inline double kc_rng_unit(struct kc_rng *rng)
{
	return 1.0 - kc_rng_double(rng);
}

#endif
