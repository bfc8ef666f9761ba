/*
 * faults_int.h - fault injection decisions for the emulator (request.c and
 * the unit tests).  Pure logic: the caller supplies the RNG and the time.
 */
#ifndef KNEECAP_EMU_FAULTS_INT_H
#define KNEECAP_EMU_FAULTS_INT_H

#include "kneecap/emulator.h"
#include "model_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What happens to one invocation. */
struct kc_emu_fault_plan {
	int status;  /* 0: none; else answer this injected error status */
	bool reset;  /* drop the connection instead of answering */
	bool slow;   /* trickle the response body */
	bool reset_mid; /* answer, but drop the connection halfway through the body */
	bool stream_error; /* response stream: ModelStreamError after half the parts */
};

/* Draws the plan for one request from f's probabilities; r is advanced. */
void kc_emu_faults_decide(const struct kc_emu_faults *f, struct kc_rng *r,
			  struct kc_emu_fault_plan *out);

/*
 * Stalls: when t_ns (time since the emulator started) falls inside a stall
 * window, returns the window's end (same origin); otherwise returns -1.
 */
int64_t kc_emu_faults_stall_end(const struct kc_emu_faults *f, int64_t t_ns);

/*
 * The SageMaker error a status stands for: its X-Amzn-ErrorType, or NULL when
 * the status is not one the emulator can inject (400 ThrottlingException,
 * 403 InvalidSignatureException, 424 ModelError, 429 ModelNotReadyException,
 * 500 InternalFailure, 503 ServiceUnavailable, 530 InternalDependencyException).
 */
const char *kc_emu_error_type(int status);

/*
 * Appends "STATUS:PROB[,STATUS:PROB...]" to f->errors (a status already
 * listed is replaced).  Returns 0, or KC_EINVAL with why filled.
 */
int kc_emu_faults_parse_errors(struct kc_emu_faults *f, const char *s,
			       char *why, size_t whysz);

#endif
