/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_daemon_fuzz_replay.c - replays the committed corpora of the fuzz
 * drivers of the daemon's and the CLI's parsers (the forwarded request of
 * /v1/authz, check and admin bodies, the tokens file, the configuration,
 * a line of `cutoff check --batch`) through the entry points libFuzzer
 * calls; see fuzz_replay.h. It links the daemon's objects; the batch line
 * grammar, the CLI's one file these drivers need, is compiled in here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define CUTOFF_FUZZ_REPLAY 1
#include "../../fuzz/fuzz_common.c"
#include "../../fuzz/fuzz_admin_body.c"
#include "../../fuzz/fuzz_authz.c"
#include "../../fuzz/fuzz_batch_line.c"
#include "../../fuzz/fuzz_check_body.c"
#include "../../fuzz/fuzz_config.c"
#include "../../fuzz/fuzz_tokens.c"
#include "../../src/cli/batch_line.c"

#include "fuzz_replay.h"

static void replay_authz(void **state)
{
    (void)state;
    replay("authz", co__fuzz_authz);
}

static void replay_check_body(void **state)
{
    (void)state;
    replay("check_body", co__fuzz_check_body);
}

static void replay_admin_body(void **state)
{
    (void)state;
    replay("admin_body", co__fuzz_admin_body);
}

static void replay_tokens(void **state)
{
    (void)state;
    replay("tokens", co__fuzz_tokens);
}

static void replay_config(void **state)
{
    (void)state;
    replay("config", co__fuzz_config);
}

static void replay_batch_line(void **state)
{
    (void)state;
    replay("batch_line", co__fuzz_batch_line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_authz),      cmocka_unit_test(replay_check_body),
        cmocka_unit_test(replay_admin_body), cmocka_unit_test(replay_tokens),
        cmocka_unit_test(replay_config),     cmocka_unit_test(replay_batch_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
