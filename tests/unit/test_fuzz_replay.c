/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fuzz_replay.c - replays every file of the committed fuzz corpus
 * (fuzz/corpus/<driver>/) through the same entry points libFuzzer calls,
 * so the normal test run (and its sanitizer pass) checks every input that
 * once found something: no crash, no leak, every invariant of the driver
 * holds, and each result is a success or a known error code with a
 * message. The corpus is found under $CUTOFF_SOURCE_DIR, or else under
 * the current directory (tests/run.sh runs from the repository root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define CUTOFF_FUZZ_REPLAY 1
#include "../../fuzz/fuzz_common.c"
#include "../../fuzz/fuzz_action.c"
#include "../../fuzz/fuzz_catalog.c"
#include "../../fuzz/fuzz_node_line.c"
#include "../../fuzz/fuzz_time.c"

#include "fuzz_replay.h"

static void replay_catalog(void **state)
{
    (void)state;
    replay("catalog", co__fuzz_catalog);
}

static void replay_action(void **state)
{
    (void)state;
    replay("action", co__fuzz_action);
}

static void replay_node_line(void **state)
{
    (void)state;
    replay("node_line", co__fuzz_node_line);
}

static void replay_time(void **state)
{
    (void)state;
    replay("time", co__fuzz_time);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_catalog),
        cmocka_unit_test(replay_action),
        cmocka_unit_test(replay_node_line),
        cmocka_unit_test(replay_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
