/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch.c - "cutoff check --batch FILE [--bench]": many decisions from a
 * file of lines "subscription<TAB>action<TAB>region<TAB>time[<TAB>as-of]".
 *
 * The file is read with one read into one buffer and split in place; the
 * requests go into one array allocated once, so reading costs no malloc
 * per line. Every line is validated (batch_line.c) before any decision is printed: a bad
 * line is an error naming it and the output stays empty. Decisions are
 * made by name, as a gateway that receives string ids would make them,
 * with cutoff_check_many (the lookups of neighbouring requests overlap);
 * through a server, the requests go in chunks to
 * POST /v1/check/batch and the decisions print as the chunks come back.
 *
 * --bench measures the decisions only: a warm-up pass, then a throughput
 * figure from whole passes timed as a block (no timer per call) through
 * cutoff_check_many, the same with one cutoff_check call per decision
 * (on stderr, for comparison), then a
 * latency distribution from separate passes timing each decision with the
 * cheapest clock there is (the invariant TSC where the CPU has one,
 * calibrated against CLOCK_MONOTONIC; else CLOCK_MONOTONIC itself). Each
 * measurement repeats passes until at least a second of work is done.
 * It measures the in-process engine, so it works on a local database only.
 */
#include "cli/backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef cli_request request;

/* ---- validation ----------------------------------------------------------- */

/* Validates the whole buffer into requests (one array, allocated here).
 * On a bad line reports "NAME:LINE: why" and returns CLI_FAIL. */
static int parse_requests(const char *name, char *data, size_t len, request **out, bool **as_of_out,
                          size_t *n_out)
{
    size_t lines = 0;
    for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))) != NULL; p++)
        lines++;
    if (len > 0 && data[len - 1] != '\n')
        lines++; /* a last line without its newline */
    request *reqs = malloc((lines ? lines : 1) * sizeof *reqs);
    bool *as_of = calloc(lines ? lines : 1, sizeof *as_of), any_as_of = false;
    if (reqs == NULL || as_of == NULL) {
        free(reqs);
        free(as_of);
        return cli_error("out of memory for %zu requests", lines);
    }
    char *p = data, *end = data + len;
    for (size_t i = 0; i < lines; i++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0'; /* data has a spare byte after len */
        char why[600];
        if (cli_batch_line_parse(p, (size_t)(line_end - p), &reqs[i], &as_of[i], why, sizeof why) !=
            0) {
            free(reqs);
            free(as_of);
            return cli_error("%s:%zu: %s", name, i + 1, why);
        }
        any_as_of = any_as_of || as_of[i];
        p = line_end + 1;
    }
    if (!any_as_of) {
        free(as_of);
        as_of = NULL;
    }
    *out = reqs;
    *as_of_out = as_of;
    *n_out = lines;
    return CLI_OK;
}

/* ---- decisions -------------------------------------------------------------- */

/* Output lines collect in one buffer, written when full and at the end. */
typedef struct printer {
    char out[1 << 16];
    size_t used;
} printer;

static int flush_printer(printer *p)
{
    if (p->used > 0 && fwrite(p->out, 1, p->used, stdout) != p->used)
        return cli_error("cannot write the decisions");
    p->used = 0;
    return CLI_OK;
}

static int print_decision(void *ctx, bool allow, const char *reason, const char *by)
{
    printer *p = ctx;
    if (by == NULL)
        by = "-";
    size_t need = strlen(reason) + strlen(by) + 16;
    if (p->used + need > sizeof p->out && flush_printer(p) != CLI_OK)
        return CLI_FAIL;
    p->used += (size_t)snprintf(p->out + p->used, sizeof p->out - p->used, "%s\t%s\t%s\n",
                                allow ? "allow" : "deny", reason, by);
    return CLI_OK;
}

/* ---- clocks ------------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
/* lfence keeps the timed call from moving across the reads of the TSC. */
static inline uint64_t tsc_start(void)
{
    __builtin_ia32_lfence();
    uint64_t t = __builtin_ia32_rdtsc();
    __builtin_ia32_lfence();
    return t;
}
static inline uint64_t tsc_stop(void)
{
    __builtin_ia32_lfence();
    return __builtin_ia32_rdtsc();
}

/* The TSC counts time only when it runs at a constant rate through sleep
 * states; the kernel says so in the CPU flags. */
static bool tsc_usable(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    bool constant = false, nonstop = false;
    if (f == NULL)
        return false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
}
#else
static inline uint64_t tsc_start(void)
{
    return monotonic_ns();
}
static inline uint64_t tsc_stop(void)
{
    return monotonic_ns();
}
static bool tsc_usable(void)
{
    return false;
}
#endif

typedef struct clock_cal {
    bool tsc;
    double ticks_per_ns;
    uint64_t overhead; /* ticks of a start/stop pair around nothing */
} clock_cal;

static inline uint64_t clk_start(const clock_cal *k)
{
    return k->tsc ? tsc_start() : monotonic_ns();
}
static inline uint64_t clk_stop(const clock_cal *k)
{
    return k->tsc ? tsc_stop() : monotonic_ns();
}

static void calibrate(clock_cal *k)
{
    k->tsc = tsc_usable();
    k->ticks_per_ns = 1.0;
    if (k->tsc) {
        uint64_t n0 = monotonic_ns(), t0 = tsc_start(), n1, t1;
        do {
            n1 = monotonic_ns();
            t1 = tsc_stop();
        } while (n1 - n0 < 50000000u);
        k->ticks_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
        if (!(k->ticks_per_ns > 0.01))
            k->tsc = false, k->ticks_per_ns = 1.0;
    }
    /* The cost of reading the clock twice is not the decision's: the
     * smallest of many empty measurements is subtracted from each sample. */
    k->overhead = UINT64_MAX;
    for (int i = 0; i < 100000; i++) {
        uint64_t a = clk_start(k), b = clk_stop(k);
        if (b - a < k->overhead)
            k->overhead = b - a;
    }
}

/* ---- latency histogram ----------------------------------------------------------
 * Exact below HIST_LINEAR ticks, then 256 buckets per power of two (under
 * 0.4 % error), so a fixed 170 KB holds any number of samples. */
#define HIST_LINEAR 8192u
#define HIST_SUB 256u
#define HIST_SIZE (HIST_LINEAR + (64u - 13u) * HIST_SUB)

static size_t hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (size_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 13 */
    return HIST_LINEAR + (e - 13u) * HIST_SUB + (size_t)((v >> (e - 8u)) & (HIST_SUB - 1));
}

static uint64_t hist_value(size_t i)
{
    if (i < HIST_LINEAR)
        return i;
    size_t k = i - HIST_LINEAR;
    unsigned e = 13u + (unsigned)(k / HIST_SUB);
    return (uint64_t)(HIST_SUB + k % HIST_SUB) << (e - 8u);
}

/* The smallest sample value v with at least `fraction` of samples <= v. */
static uint64_t hist_quantile(const uint64_t *hist, uint64_t total, double fraction)
{
    uint64_t want = (uint64_t)((double)total * fraction + 0.999999), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST_SIZE; i++) {
        seen += hist[i];
        if (seen >= want)
            return hist_value(i);
    }
    return hist_value(HIST_SIZE - 1);
}

/* ---- bench ---------------------------------------------------------------------- */

#define BENCH_MIN_NS 1000000000u /* each measurement: at least a second of work */
#define WARMUP_MIN_NS 50000000u  /* and a warm-up of at least 50 ms */

/* Where the decisions' results go, so that no loop can be optimised away. */
static volatile uint64_t bench_sink;

static int bench(const cutoff_snapshot *snap, const request *reqs, size_t n)
{
    cutoff_verdict v;
    uint64_t allows = 0, denies = 0, sink = 0;

    /* Warm-up: the first pass also counts the file's allows and denies. */
    uint64_t t0 = monotonic_ns();
    for (size_t i = 0; i < n; i++) {
        cutoff_check(snap, reqs[i].subscription, reqs[i].action, reqs[i].region, reqs[i].at, &v);
        if (v.reason == CUTOFF_REASON_ALLOW)
            allows++;
        else
            denies++;
    }
    while (monotonic_ns() - t0 < WARMUP_MIN_NS) {
        for (size_t i = 0; i < n; i++) {
            cutoff_check(snap, reqs[i].subscription, reqs[i].action, reqs[i].region, reqs[i].at,
                         &v);
            sink += (uint64_t)v.reason;
        }
    }

    /* Throughput: whole passes through cutoff_check_many (as the batch
     * output is decided), one clock read per pass. */
    enum { CHUNK = 256 };
    cutoff_verdict many[CHUNK];
    uint64_t passes = 0, elapsed;
    t0 = monotonic_ns();
    do {
        for (size_t base = 0; base < n; base += CHUNK) {
            size_t m = n - base < CHUNK ? n - base : CHUNK;
            cutoff_check_many(snap, reqs + base, m, many);
            sink += (uint64_t)many[m - 1].reason;
        }
        passes++;
        elapsed = monotonic_ns() - t0;
    } while (elapsed < BENCH_MIN_NS);
    double per_s = (double)n * (double)passes * 1e9 / (double)elapsed;

    /* The same with one cutoff_check call per decision, for comparison. */
    uint64_t single_passes = 0, single_elapsed;
    t0 = monotonic_ns();
    do {
        for (size_t i = 0; i < n; i++) {
            cutoff_check(snap, reqs[i].subscription, reqs[i].action, reqs[i].region, reqs[i].at,
                         &v);
            sink += (uint64_t)v.reason;
        }
        single_passes++;
        single_elapsed = monotonic_ns() - t0;
    } while (single_elapsed < BENCH_MIN_NS);
    double single_per_s = (double)n * (double)single_passes * 1e9 / (double)single_elapsed;

    /* Latency: every decision timed on its own. */
    clock_cal k;
    calibrate(&k);
    uint64_t *hist = calloc(HIST_SIZE, sizeof *hist);
    if (hist == NULL)
        return cli_error("out of memory");
    uint64_t samples = 0;
    t0 = monotonic_ns();
    do {
        for (size_t i = 0; i < n; i++) {
            uint64_t a = clk_start(&k);
            cutoff_check(snap, reqs[i].subscription, reqs[i].action, reqs[i].region, reqs[i].at,
                         &v);
            uint64_t b = clk_stop(&k);
            uint64_t d = b - a;
            hist[hist_index(d > k.overhead ? d - k.overhead : 0)]++;
            sink += (uint64_t)v.reason;
        }
        samples += n;
    } while (monotonic_ns() - t0 < BENCH_MIN_NS);
    uint64_t p50 = hist_quantile(hist, samples, 0.50), p99 = hist_quantile(hist, samples, 0.99);
    free(hist);

    bench_sink = sink;
    printf("decisions_per_s=%.0f allows=%llu denies=%llu p50_ns=%.0f p99_ns=%.0f\n", per_s,
           (unsigned long long)allows, (unsigned long long)denies, (double)p50 / k.ticks_per_ns,
           (double)p99 / k.ticks_per_ns);
    /* The contract's line is the first; this one is extra, on stderr. */
    fprintf(stderr, "single_call_decisions_per_s=%.0f\n", single_per_s);
    return CLI_OK;
}

/* ---- entry ----------------------------------------------------------------------- */

int cli_check_batch(cli *c, const char *path, bool bench_mode)
{
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    char *data = NULL;
    size_t len = 0;
    request *reqs = NULL;
    bool *as_of = NULL;
    size_t n = 0;
    cutoff_db *db = NULL;
    cutoff_snapshot *snap = NULL;
    cli_backend *b = NULL;
    printer *out = NULL;
    cutoff_diag diag = {0};
    int rc;

    if ((rc = cli_resolve(c)) != CLI_OK)
        return rc;
    if (bench_mode && c->server)
        return cli_usage(c,
                         "--bench measures the in-process engine on a local database; it "
                         "does not work through the server %s (give --db PATH)",
                         c->server);
    if ((rc = cli_read_file(path, &data, &len)) != CLI_OK)
        return rc;
    if ((rc = parse_requests(name, data, len, &reqs, &as_of, &n)) != CLI_OK)
        goto out;
    if (bench_mode) {
        if (n == 0) {
            rc = cli_error("%s: no requests to measure", name);
            goto out;
        }
        if (as_of != NULL) {
            rc = cli_error("%s: --bench measures today's decisions; it takes no \"as-of\" lines",
                           name);
            goto out;
        }
        if ((rc = cli_open_db(c, false, "--bench", &db)) != CLI_OK)
            goto out;
        int err = cutoff_db_snapshot(db, NULL, cli_batch_earliest(reqs, NULL, n, cli_now()), &snap,
                                     &diag);
        if (err != 0) {
            rc = cli_fail(err, &diag, "building the current state");
            goto out;
        }
        cutoff_db_close(db);
        db = NULL;
        rc = bench(snap, reqs, n);
        goto out;
    }
    if ((out = calloc(1, sizeof *out)) == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    if ((rc = cli_backend_open(c, &b)) != CLI_OK)
        goto out;
    int err = b->ops->check_batch(b, reqs, as_of, n, print_decision, out, &diag);
    if (err != 0) {
        rc = cli_fail(err, &diag, NULL);
        goto out;
    }
    rc = flush_printer(out);
out:
    cli_backend_close(b);
    free(out);
    cutoff_snapshot_release(snap);
    cutoff_db_close(db);
    free(reqs);
    free(as_of);
    free(data);
    return rc;
}
