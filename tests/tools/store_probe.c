/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_probe.c - drives one store handle from stdin, for tests of what a
 * long-lived process sees: change_wait wake-ups, and a handle that must
 * outlive a server restart.
 *
 *   store_probe LOCATION     (an initialised database)
 *
 * One command per line, one answer line each (flushed at once):
 *   wait MS   ->  "wait RC MS"    change_wait(MS): 1 woken, 0 timeout, <0 error
 *                                 (MS: how long it took)
 *   last      ->  "last RC SEQ"   change_last(0) in a read transaction
 *   change    ->  "change RC"     change_put(1, "probe") in a write transaction
 * Errors add the store's message after the numbers.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: store_probe LOCATION\n");
        return 2;
    }
    const co__store_ops *ops = co__store_for(argv[1]);
    co__store *s = NULL;
    cutoff_diag diag = {0};
    int rc = ops->open(argv[1], 0, &s, &diag);
    if (rc != 0) {
        fprintf(stderr, "store_probe: %s\n", diag.message);
        return 1;
    }
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "wait ", 5) == 0) {
            long long start = now_ms();
            rc = ops->change_wait ? ops->change_wait(s, atoi(line + 5)) : -1;
            printf("wait %d %lld%s%s\n", rc, now_ms() - start, rc < 0 ? " " : "",
                   rc < 0 ? ops->errmsg(s) : "");
        } else if (strncmp(line, "last", 4) == 0) {
            uint64_t seq = 0;
            rc = ops->begin_read(s);
            if (rc == 0 && (rc = ops->change_last(s, 0, &seq)) == 0)
                rc = ops->commit(s);
            if (rc != 0)
                ops->rollback(s);
            printf("last %d %llu%s%s\n", rc, (unsigned long long)seq, rc ? " " : "",
                   rc ? ops->errmsg(s) : "");
        } else if (strncmp(line, "change", 6) == 0) {
            rc = ops->begin(s);
            if (rc == 0 && (rc = ops->change_put(s, 1, "probe")) == 0)
                rc = ops->commit(s);
            if (rc != 0)
                ops->rollback(s);
            printf("change %d%s%s\n", rc, rc ? " " : "", rc ? ops->errmsg(s) : "");
        } else {
            printf("? %s", line);
        }
        fflush(stdout);
    }
    ops->close(s);
    return 0;
}
