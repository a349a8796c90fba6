/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h - the entry points of the fuzz drivers. Each driver feeds one
 * input to a parser and checks what must hold whatever the input: a
 * success reads back the same through the writer, a failure is a proper
 * error code with a one-line, valid UTF-8 message. libFuzzer calls them
 * through LLVMFuzzerTestOneInput; the unit test test_fuzz_replay includes
 * the drivers with CUTOFF_FUZZ_REPLAY defined and calls them on every file
 * of the committed corpus (test_daemon_fuzz_replay: the drivers of the
 * daemon's and the CLI's parsers).
 */
#ifndef CUTOFF_FUZZ_H
#define CUTOFF_FUZZ_H

#include "cutoff.h"

#include <stddef.h>
#include <stdint.h>

/* Each returns the result code of the parser under test, with its
 * message in diag when it failed. */
int co__fuzz_catalog(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_action(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_node_line(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_time(const uint8_t *data, size_t size, cutoff_diag *diag);
/* The daemon's and the CLI's parsers of outside input (these drivers link
 * the daemon's objects; see fuzz/run.sh). */
int co__fuzz_authz(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_check_body(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_admin_body(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_tokens(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_config(const uint8_t *data, size_t size, cutoff_diag *diag);
int co__fuzz_batch_line(const uint8_t *data, size_t size, cutoff_diag *diag);

/* A broken invariant: aborts under libFuzzer (so the input is saved),
 * fails the test in the replay. */
void co__fuzz_fail(const char *what, const char *file, int line);
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            co__fuzz_fail(#cond, __FILE__, __LINE__);                                              \
    } while (0)

/* Checks a failed call: a known negative code, diag->code equal to it and
 * a non-empty one-line message in valid UTF-8. */
void co__fuzz_check_failure(int rc, const cutoff_diag *diag);

/* A message of the daemon or the CLI (a buffer of size bytes): non-empty,
 * one line, valid UTF-8. */
void co__fuzz_check_message(const char *why, size_t size);
/* A refusal reported as rc and a message: checks the message and hands
 * both on in diag, as the library's parsers report. Returns rc. */
int co__fuzz_refused(int rc, const char *why, cutoff_diag *diag);

#ifndef CUTOFF_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

#endif
