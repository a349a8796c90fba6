/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_replay.h - what the replay tests share (test_fuzz_replay,
 * test_daemon_fuzz_replay): replay() feeds every file of the committed
 * corpus fuzz/corpus/<driver>/ through the driver's entry point, failing
 * on a broken invariant, a leak of the library's allocations, a result that
 * is neither a success nor a known error with a message, or a corpus of
 * fewer than MIN_SEEDS inputs, or of only good or only bad ones. Include it
 * after the drivers.
 */
#ifndef CUTOFF_TEST_FUZZ_REPLAY_H
#define CUTOFF_TEST_FUZZ_REPLAY_H

#include "util/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The corpus of a driver must hold at least this many seeds. */
#define MIN_SEEDS 12

static const char *current_file = "";

void co__fuzz_fail(const char *what, const char *file, int line)
{
    fail_msg("%s: invariant broken at %s:%d: %s", current_file, file, line, what);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    uint8_t *data = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(data, cap);
            assert_non_null(grown);
            data = grown;
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *size = n;
    return data;
}

/* Feeds every file of fuzz/corpus/<driver>/ (in name order) to fn. */
static void replay(const char *driver, int (*fn)(const uint8_t *, size_t, cutoff_diag *))
{
    const char *root = getenv("CUTOFF_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", root && *root ? root : ".", driver);
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("no corpus at %s (set CUTOFF_SOURCE_DIR to the source tree)", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        assert_non_null(grown);
        names = grown;
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);

    size_t ok = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t *data = read_file(path, &size);
        current_file = path;
        cutoff_diag diag;
        memset(&diag, 0, sizeof diag);
        long live = co__alloc_live();
        int rc = fn(data, size, &diag);
        if (co__alloc_live() != live)
            fail_msg("%s: %ld allocations leaked", path, co__alloc_live() - live);
        if (rc == 0) {
            ok++;
        } else {
            /* the drivers check this too; say it here where it is required */
            if (rc >= 0 || strcmp(cutoff_errname(rc), "EUNKNOWN") == 0 || diag.message[0] == '\0')
                fail_msg("%s: result %d without a proper error and message", path, rc);
            refused++;
        }
        free(data);
        free(names[i]);
    }
    free(names);
    print_message("# %s: %zu inputs, %zu accepted, %zu refused\n", driver, n, ok, refused);
    if (n < MIN_SEEDS)
        fail_msg("%s holds %zu inputs; the corpus should have at least %d", dir, n, MIN_SEEDS);
    /* a corpus of only good or only bad inputs would test half the parser */
    assert_true(ok > 0);
    assert_true(refused > 0);
}

#endif
