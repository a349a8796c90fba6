/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nodes.c - the customer tree in the database: bulk import of node lines,
 * loading the tree for the engine, and showing one node.
 *
 * An import is all or nothing and has to be fast (ten million lines in
 * seconds), so it runs as a pipeline over one in-memory copy of the input:
 *
 *   1. read the whole input into one buffer (no lock held);
 *   2. parse the lines in place, in chunks, on every core, each chunk
 *      once another thread has passed it computing the SHA-256 of the
 *      input for the audit record; the first bad line (in line order) is
 *      the one reported;
 *   3. sort the nodes by id (a radix sort on 8-byte prefixes) and refuse an
 *      id given twice;
 *   4. inside one write transaction: walk the stored nodes in id order
 *      beside the sorted file to classify each line (new, changed,
 *      unchanged), feeding the stored nodes the file leaves alone to the
 *      engine's tree builder;
 *   5. on one thread add the file's nodes to the builder and build the tree,
 *      which checks ids, kinds, parents, cycles and plans exactly as the
 *      engine will when it compiles the tree; meanwhile write the new and
 *      changed rows in id order (unchanged rows are not written at all);
 *   6. only if both succeed, append the audit record and commit. Any
 *      failure rolls the transaction back, so nothing is half-imported and
 *      nothing of it is ever visible to readers.
 */
#include "db/db_int.h"
#include "engine/engine.h"
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often (in lines) the progress callback hears from an import. */
#define PROGRESS_EVERY 100000
#define READ_CHUNK (1u << 20)
/* Inputs smaller than this are parsed on the calling thread alone. */
#define PARALLEL_MIN_BYTES (4u << 20)
/* Parse work is handed out in pieces of about this size, so that a thread
 * slowed down by other load on the machine does not hold up the rest. */
#define PARSE_CHUNK_BYTES (4u << 20)
#define MAX_THREADS 8
/* The row writer looks at the validation's verdict this often. */
#define ABORT_CHECK_ROWS 4096

/* ===================================================================== */
/* Import: reading and parsing                                            */
/* ===================================================================== */

enum { ENTRY_NEW = 0, ENTRY_CHANGED = 1, ENTRY_SAME = 2 };

/* One node line of the input; the strings point into the input buffer. */
typedef struct import_entry {
    cutoff_node_spec spec;
    uint64_t line;
    uint8_t state;
} import_entry;

/* The entries sorted by id; prefix is scratch for the radix sort. */
typedef struct sort_key {
    uint64_t prefix;
    const char *id;
    uint32_t entry;
} sort_key;

typedef struct import_job {
    cutoff_db *db;
    const char *source;
    cutoff_diag *diag;
    import_entry *entries; /* in line order */
    size_t n;
    uint64_t lines_read; /* blank ones too */
    size_t id_bytes;
    sort_key *keys; /* in id order */
    cutoff_tree_builder *builder;
    /* merging the stored nodes (in id order) with the keys */
    size_t cursor;
    uint64_t existing; /* stored rows */
    uint64_t kept;     /* stored rows the file does not replace: builder items [0, kept) */
    char last_id[CUTOFF_ID_MAX + 2];
    /* finding the stored node behind a builder item */
    uint64_t want_item;
    char *found_id;
} import_job;

/* Reads the whole input into text (NUL-terminated). */
static int read_input(FILE *in, const char *source, co__buf *text, cutoff_diag *diag)
{
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > CUTOFF_IMPORT_MAX)
            goto too_large;
        if (co__buf_reserve(text, (size_t)st.st_size + READ_CHUNK) != 0)
            return CUTOFF_ENOMEM;
        /* Gigabytes fault in a few hundred times instead of ~250000. */
        co__advise_huge(text->data, (size_t)st.st_size + READ_CHUNK);
    }
    for (;;) {
        if (co__buf_reserve(text, READ_CHUNK) != 0)
            return CUTOFF_ENOMEM;
        size_t got = fread(text->data + text->len, 1, READ_CHUNK, in);
        text->len += got;
        text->data[text->len] = '\0';
        /* An input without end (a device, a pipe that never closes) stops
         * at the limit instead of taking all memory. */
        if (text->len > CUTOFF_IMPORT_MAX)
            goto too_large;
        if (got < READ_CHUNK) {
            if (ferror(in))
                return co__diag(diag, CUTOFF_EIO, "%s: read error: %s", source, strerror(errno));
            if (feof(in))
                return 0;
        }
    }
too_large:
    return co__diag(diag, CUTOFF_ELIMIT, "%s: more than %llu MiB of node lines; split the import",
                    source, (unsigned long long)(CUTOFF_IMPORT_MAX >> 20));
}

static size_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (size_t)n;
}

/* The SHA-256 of the input, for the audit record. Parsing rewrites the
 * buffer in place, so it must not reach bytes not hashed yet: a large
 * input is hashed on a thread of its own, a step ahead of the parsers,
 * which wait for it before each chunk (no copy of the input is made); a
 * small one is hashed at once. */
#define HASH_STEP (4u << 20)

typedef struct input_hash {
    const unsigned char *text;
    size_t len;
    bool running;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t moved;
    size_t done;          /* bytes hashed so far (under lock while running) */
    _Atomic bool abandon; /* the import failed: stop hashing */
    char hex[65];
} input_hash;

static void hash_hex(crypto_hash_sha256_state *st, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}

static void *hash_thread(void *arg)
{
    input_hash *h = arg;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t at = 0; at < h->len && !atomic_load(&h->abandon);) {
        size_t n = h->len - at < HASH_STEP ? h->len - at : HASH_STEP;
        crypto_hash_sha256_update(&st, h->text + at, n);
        at += n;
        pthread_mutex_lock(&h->lock);
        h->done = at;
        pthread_cond_broadcast(&h->moved);
        pthread_mutex_unlock(&h->lock);
    }
    hash_hex(&st, h->hex);
    return NULL;
}

/* Before parsing: starts hashing a large input on a thread, or hashes it
 * now (a small input, one core, or no thread to be had). */
static void hash_start(input_hash *h, const char *text, size_t len)
{
    h->text = (const unsigned char *)text;
    h->len = len;
    h->done = 0;
    atomic_init(&h->abandon, false);
    if (len >= PARALLEL_MIN_BYTES && online_cpus() > 1) {
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->moved, NULL);
        h->running = pthread_create(&h->thread, NULL, hash_thread, h) == 0;
        if (h->running)
            return;
        pthread_cond_destroy(&h->moved);
        pthread_mutex_destroy(&h->lock);
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, h->text, len);
    hash_hex(&st, h->hex);
    h->done = len;
}

/* Waits until the first `upto` bytes of the input are hashed. */
static void hash_wait(input_hash *h, size_t upto)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->lock);
    while (h->done < upto)
        pthread_cond_wait(&h->moved, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

/* Waits for the whole hash (or, abandoning it, for the thread to stop).
 * Safe to call in any state, and again. */
static void hash_finish(input_hash *h, bool abandon)
{
    if (!h->running)
        return;
    atomic_store(&h->abandon, abandon);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->moved);
    pthread_mutex_destroy(&h->lock);
    h->running = false;
}

/* A run of whole lines, parsed by one thread at a time. */
typedef struct parse_chunk {
    char *begin, *end;
    uint64_t first_line;
    import_entry *out; /* room for one entry per line */
    size_t n;
    size_t id_bytes;
    uint64_t bad_line; /* 0 when it parsed */
    int rc;
    cutoff_diag diag;
} parse_chunk;

typedef struct parse_work {
    const char *source;
    const char *text; /* the whole input */
    input_hash *hash; /* chunks are parsed only once hashed */
    parse_chunk *chunks;
    size_t n_chunks;
    _Atomic size_t next_chunk;
    _Atomic uint64_t lines_done;
    _Atomic uint64_t first_bad; /* smallest failing line found so far */
    cutoff_progress_fn progress;
    void *progress_ctx;
    uint64_t reported;
} parse_work;

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* The calling thread (which owns the progress callback) reports. */
static void report_progress(parse_work *w)
{
    uint64_t done = atomic_load_explicit(&w->lines_done, memory_order_relaxed);
    if (done >= w->reported + PROGRESS_EVERY) {
        w->reported = done - done % PROGRESS_EVERY;
        w->progress(w->progress_ctx, w->reported);
    }
}

/* Parses one chunk in place. It stops at its first bad line, and early
 * when another chunk has already failed on an earlier line, so the error
 * finally reported is the first in the input. */
static void parse_chunk_run(parse_work *w, parse_chunk *c, bool reporter)
{
    hash_wait(w->hash, (size_t)(c->end - w->text));
    char *p = c->begin;
    uint64_t line = c->first_line - 1, unreported = 0;
    while (p < c->end) {
        line++;
        if (line > atomic_load_explicit(&w->first_bad, memory_order_relaxed))
            break;
        char *nl = memchr(p, '\n', (size_t)(c->end - p));
        char *stop = nl ? nl : c->end;
        size_t n = (size_t)(stop - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (!blank(p, n)) {
            import_entry *e = &c->out[c->n];
            p[n] = '\0'; /* the newline (or the buffer's end) ends the line */
            int rc = cutoff_node_parse_line(p, n, &e->spec, &c->diag);
            if (rc != 0) {
                if (nl == NULL)
                    co__diag_prefix(&c->diag,
                                    "%s:%llu: the last line is cut short (no newline at the end): ",
                                    w->source, (unsigned long long)line);
                else
                    co__diag_prefix(&c->diag, "%s:%llu: ", w->source, (unsigned long long)line);
                c->diag.line = (size_t)line;
                c->rc = rc;
                c->bad_line = line;
                uint64_t seen = atomic_load(&w->first_bad);
                while (line < seen && !atomic_compare_exchange_weak(&w->first_bad, &seen, line))
                    ;
                break;
            }
            e->line = line;
            e->state = ENTRY_NEW;
            c->id_bytes +=
                strlen(e->spec.id) + 1 + (e->spec.parent ? strlen(e->spec.parent) + 1 : 0);
            c->n++;
        }
        p = nl ? nl + 1 : c->end;
        if (++unreported == 16384) {
            atomic_fetch_add_explicit(&w->lines_done, unreported, memory_order_relaxed);
            unreported = 0;
            if (reporter && w->progress)
                report_progress(w);
        }
    }
    atomic_fetch_add_explicit(&w->lines_done, unreported, memory_order_relaxed);
}

static void parse_chunks(parse_work *w, bool reporter)
{
    for (;;) {
        size_t k = atomic_fetch_add(&w->next_chunk, 1);
        if (k >= w->n_chunks)
            return;
        parse_chunk_run(w, &w->chunks[k], reporter);
        if (reporter && w->progress)
            report_progress(w);
    }
}

static void *parse_thread(void *arg)
{
    parse_chunks(arg, false);
    return NULL;
}

/* Splits the input into chunks of whole lines and parses them on every
 * core (the calling thread too). Leaves the entries in line order, without
 * gaps, in job->entries. */
static int parse_input(import_job *job, char *text, size_t len, input_hash *hash,
                       cutoff_progress_fn progress, void *progress_ctx)
{
    int rc = 0;
    size_t threads = len >= PARALLEL_MIN_BYTES ? online_cpus() : 1;
    size_t n_chunks = threads == 1 ? 1 : (len + PARSE_CHUNK_BYTES - 1) / PARSE_CHUNK_BYTES;
    pthread_t workers[MAX_THREADS];
    size_t started = 0;
    parse_work w = {.source = job->source,
                    .text = text,
                    .hash = hash,
                    .progress = progress,
                    .progress_ctx = progress_ctx};
    atomic_init(&w.next_chunk, 0);
    atomic_init(&w.lines_done, 0);
    atomic_init(&w.first_bad, UINT64_MAX);

    w.chunks = co__calloc(n_chunks, sizeof *w.chunks);
    if (w.chunks == NULL)
        return CUTOFF_ENOMEM;
    /* Chunk boundaries fall just after a newline; count each chunk's lines
     * so that every chunk knows its first line number and its room. */
    size_t total = 0;
    char *p = text, *end = text + len;
    for (size_t k = 0; k < n_chunks; k++) {
        parse_chunk *c = &w.chunks[k];
        char *stop = k + 1 == n_chunks ? end : text + (len / n_chunks) * (k + 1);
        if (stop < p)
            stop = p;
        if (stop < end) {
            char *nl = memchr(stop, '\n', (size_t)(end - stop));
            stop = nl ? nl + 1 : end;
        }
        c->begin = p;
        c->end = stop;
        c->first_line = total + 1;
        size_t lines = 0;
        for (char *q = p; q < stop && (q = memchr(q, '\n', (size_t)(stop - q))) != NULL; q++)
            lines++;
        if (stop > p && stop[-1] != '\n')
            lines++; /* a last line without its newline */
        c->bad_line = 0;
        co__diag_clear(&c->diag);
        total += lines;
        p = stop;
    }
    w.n_chunks = n_chunks;
    if (total >= UINT32_MAX) {
        rc = co__diag(job->diag, CUTOFF_ELIMIT, "%s: more than %u lines", job->source,
                      UINT32_MAX - 1);
        goto out;
    }
    job->entries = co__malloc((total ? total : 1) * sizeof *job->entries);
    if (job->entries == NULL) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    co__advise_huge(job->entries, total * sizeof *job->entries);
    for (size_t k = 0; k < n_chunks; k++)
        w.chunks[k].out = job->entries + (w.chunks[k].first_line - 1);

    for (size_t i = 1; i < threads; i++)
        if (pthread_create(&workers[started], NULL, parse_thread, &w) == 0)
            started++;
    parse_chunks(&w, true);
    for (size_t i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    job->lines_read = total;

    /* The first failure in line order wins. */
    for (size_t k = 0; k < n_chunks; k++)
        if (w.chunks[k].rc != 0) {
            if (job->diag)
                *job->diag = w.chunks[k].diag;
            rc = w.chunks[k].rc;
            goto out;
        }
    /* Close the gaps blank lines left between chunks. */
    for (size_t k = 0; k < n_chunks; k++) {
        if (w.chunks[k].out != job->entries + job->n)
            memmove(job->entries + job->n, w.chunks[k].out, w.chunks[k].n * sizeof *job->entries);
        job->n += w.chunks[k].n;
        job->id_bytes += w.chunks[k].id_bytes;
    }
out:
    co__free(w.chunks);
    return rc;
}

/* ===================================================================== */
/* Import: sorting                                                        */
/* ===================================================================== */

/* Up to 8 bytes of s, big-endian, zero after its end: comparing prefixes
 * as integers compares the strings byte-wise, as far as they reach. */
static uint64_t prefix_at(const char *s)
{
    uint64_t v = 0;
    int i = 0;
    for (; i < 8 && s[i]; i++)
        v = (v << 8) | (unsigned char)s[i];
    return i == 0 ? 0 : v << (8 * (8 - i));
}

/* Whether the string ended within the prefix (ids hold no NUL bytes). */
static bool prefix_ends(uint64_t v)
{
    for (int b = 0; b < 8; b++)
        if (((v >> (8 * b)) & 0xff) == 0)
            return true;
    return false;
}

static int compare_entry(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

/* Least-significant-digit radix sort on the prefixes, skipping the bytes
 * every key shares (the "sub-" of "sub-e6e7a77f12c8"). */
static void radix_sort(sort_key *a, size_t n, sort_key *tmp)
{
    static _Thread_local size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            count[b][(a[i].prefix >> (8 * b)) & 0xff]++;
    sort_key *src = a, *dst = tmp;
    for (int b = 0; b < 8; b++) {
        if (count[b][(src[0].prefix >> (8 * b)) & 0xff] == n)
            continue;
        size_t offset[256], sum = 0;
        for (int d = 0; d < 256; d++) {
            offset[d] = sum;
            sum += count[b][d];
        }
        for (size_t i = 0; i < n; i++)
            dst[offset[(src[i].prefix >> (8 * b)) & 0xff]++] = src[i];
        sort_key *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* Sorts keys sharing their first `depth` bytes: by the next 8 bytes, then
 * each run of equal prefixes by the bytes after, down to the end of the
 * ids; equal ids end up in line order. */
static void sort_run(sort_key *a, size_t n, size_t depth, sort_key *tmp)
{
    if (n < 2)
        return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            sort_key k = a[i];
            size_t j = i;
            for (; j > 0; j--) {
                int c = strcmp(a[j - 1].id + depth, k.id + depth);
                if (c < 0 || (c == 0 && a[j - 1].entry < k.entry))
                    break;
                a[j] = a[j - 1];
            }
            a[j] = k;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        a[i].prefix = prefix_at(a[i].id + depth);
    radix_sort(a, n, tmp);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && a[j].prefix == a[i].prefix; j++)
            ;
        if (j - i < 2)
            continue;
        if (prefix_ends(a[i].prefix))
            qsort(a + i, j - i, sizeof *a, compare_entry);
        else
            sort_run(a + i, j - i, depth + 8, tmp);
    }
}

/* Half of the keys, sorted on a thread of their own. */
typedef struct sort_half {
    sort_key *keys, *tmp;
    size_t n;
} sort_half;

static void *sort_half_thread(void *arg)
{
    sort_half *h = arg;
    sort_run(h->keys, h->n, 0, h->tmp);
    return NULL;
}

/* Sorts the keys (into tmp, then back), the two halves on two cores and
 * then merged; equal ids stay in line order, as sort_run leaves them. */
static void sort_keys(sort_key *keys, size_t n, sort_key *tmp)
{
    size_t half = n / 2;
    sort_half h = {keys, tmp, half};
    pthread_t thread;
    bool parallel = n * 64 >= PARALLEL_MIN_BYTES && online_cpus() > 1 &&
                    pthread_create(&thread, NULL, sort_half_thread, &h) == 0;
    if (!parallel) {
        sort_run(keys, n, 0, tmp);
        return;
    }
    sort_run(keys + half, n - half, 0, tmp + half);
    pthread_join(thread, NULL);
    /* The first half holds the earlier lines: it wins ties. */
    size_t i = 0, j = half, o = 0;
    while (i < half && j < n)
        tmp[o++] = strcmp(keys[j].id, keys[i].id) < 0 ? keys[j++] : keys[i++];
    while (i < half)
        tmp[o++] = keys[i++];
    while (j < n)
        tmp[o++] = keys[j++];
    memcpy(keys, tmp, n * sizeof *keys);
}

/* Sorts the entries by id and refuses an id given twice in the file,
 * naming both lines (the pair whose second line comes first). */
static int sort_and_check_duplicates(import_job *job)
{
    int rc = 0;
    sort_key *tmp = NULL;
    job->keys = co__malloc((job->n ? job->n : 1) * sizeof *job->keys);
    if (job->keys == NULL)
        return CUTOFF_ENOMEM;
    co__advise_huge(job->keys, job->n * sizeof *job->keys);
    bool sorted = true;
    for (size_t i = 0; i < job->n; i++) {
        job->keys[i] = (sort_key){.id = job->entries[i].spec.id, .entry = (uint32_t)i};
        if (i > 0 && sorted && strcmp(job->keys[i - 1].id, job->keys[i].id) >= 0)
            sorted = false;
    }
    if (!sorted) {
        if ((tmp = co__malloc(job->n * sizeof *tmp)) == NULL)
            return CUTOFF_ENOMEM;
        co__advise_huge(tmp, job->n * sizeof *tmp);
        sort_keys(job->keys, job->n, tmp);
        co__free(tmp);
    }
    size_t first = 0, second = SIZE_MAX;
    for (size_t i = 1; i < job->n; i++)
        if (strcmp(job->keys[i - 1].id, job->keys[i].id) == 0 &&
            (second == SIZE_MAX || job->keys[i].entry < second)) {
            first = job->keys[i - 1].entry;
            second = job->keys[i].entry;
        }
    if (second != SIZE_MAX) {
        const import_entry *a = &job->entries[first], *b = &job->entries[second];
        if (job->diag)
            job->diag->line = (size_t)b->line;
        rc = co__diag(job->diag, CUTOFF_EINVAL,
                      "%s:%llu: node \"%s\" is given twice (lines %llu and %llu); an id may appear "
                      "once per import",
                      job->source, (unsigned long long)b->line, b->spec.id,
                      (unsigned long long)a->line, (unsigned long long)b->line);
    }
    return rc;
}

/* ===================================================================== */
/* Import: checking against the stored tree                               */
/* ===================================================================== */

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_node(const cutoff_node_spec *a, const cutoff_node_spec *b)
{
    return a->kind == b->kind && same_text(a->parent, b->parent) && same_text(a->name, b->name) &&
           same_text(a->plan, b->plan);
}

/* Walks one stored node (they come in id order) against the sorted file:
 * a node the file also has is classified (changed or not) and left to the
 * file's version; any other goes into the builder as it is. With
 * want_item set, it only looks for the stored node that became builder
 * item want_item - 1. */
static int merge_stored(void *ctx, const cutoff_node_spec *node)
{
    import_job *job = ctx;
    if (job->last_id[0] && strcmp(job->last_id, node->id) >= 0)
        return co__diag(job->diag, CUTOFF_ESTORE, "the store returned nodes out of id order");
    snprintf(job->last_id, sizeof job->last_id, "%s", node->id);
    if (job->want_item == 0)
        job->existing++;
    while (job->cursor < job->n && strcmp(job->keys[job->cursor].id, node->id) < 0)
        job->cursor++;
    if (job->cursor < job->n && strcmp(job->keys[job->cursor].id, node->id) == 0) {
        import_entry *e = &job->entries[job->keys[job->cursor].entry];
        e->state = same_node(&e->spec, node) ? ENTRY_SAME : ENTRY_CHANGED;
        job->cursor++;
        return 0;
    }
    if (job->want_item) {
        if (job->kept + 1 == job->want_item) {
            job->found_id = co__strdup(node->id);
            return job->found_id ? 1 : CUTOFF_ENOMEM;
        }
        job->kept++;
        return 0;
    }
    int rc = cutoff_tree_builder_add(job->builder, node, job->diag);
    if (rc != 0 && rc != CUTOFF_ENOMEM)
        return co__diag(job->diag, CUTOFF_ESTORE, "the database holds an invalid node: %s",
                        job->diag ? job->diag->message : node->id);
    job->kept++;
    return rc;
}

/* The line of the file's entry for id, or 0. */
static uint64_t line_of(const import_job *job, const char *id)
{
    size_t lo = 0, hi = job->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(job->keys[mid].id, id);
        if (c == 0)
            return job->entries[job->keys[mid].entry].line;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The tree builder blamed a stored node the file does not touch (its
 * parent became a subscription, or it sits on a cycle the file closed).
 * Names the file line that caused it: the nearest node at or above it, by
 * the new parents, that the file sets. */
static void blame_stored(import_job *job, size_t item)
{
    cutoff_diag *diag = job->diag, scratch;
    char *strings = NULL;
    import_job probe = *job;
    co__diag_clear(&scratch);
    probe.diag = &scratch;
    probe.cursor = 0;
    probe.kept = 0;
    probe.last_id[0] = '\0';
    probe.want_item = (uint64_t)item + 1;
    probe.found_id = NULL;
    STORE_OPS(job->db)->node_iter(job->db->store, merge_stored, &probe);
    if (probe.found_id == NULL) {
        co__diag_prefix(diag, "%s: ", job->source);
        return;
    }
    char *blamed = probe.found_id, *id = co__strdup(blamed);
    uint64_t line = 0;
    for (int step = 0; id && step < 100000; step++) {
        if ((line = line_of(job, id)) != 0)
            break;
        cutoff_node_spec node;
        if (STORE_OPS(job->db)->node_get(job->db->store, id, &node, &strings) != 0 ||
            node.parent == NULL)
            break;
        char *next = co__strdup(node.parent);
        co__free(strings);
        strings = NULL;
        co__free(id);
        id = next;
    }
    if (line && diag) {
        co__diag_prefix(diag, "%s:%llu: ", job->source, (unsigned long long)line);
        size_t used = strlen(diag->message);
        snprintf(diag->message + used, sizeof diag->message - used,
                 " (\"%s\" is already in the database; line %llu changes \"%s\")", blamed,
                 (unsigned long long)line, id);
        diag->line = (size_t)line;
    } else {
        co__diag_prefix(diag, "%s: ", job->source);
    }
    co__free(strings);
    co__free(id);
    co__free(blamed);
}

/* Turns a tree builder failure into a message naming the input line. */
static int blame(import_job *job, int rc)
{
    cutoff_diag *diag = job->diag;
    if (rc == CUTOFF_ENOMEM || diag == NULL)
        return rc;
    size_t item = diag->item;
    diag->item = SIZE_MAX;
    if (item == SIZE_MAX) {
        co__diag_prefix(diag, "%s: ", job->source);
    } else if (item >= job->kept && item - job->kept < job->n) {
        uint64_t line = job->entries[item - job->kept].line;
        co__diag_prefix(diag, "%s:%llu: ", job->source, (unsigned long long)line);
        diag->line = (size_t)line;
    } else {
        blame_stored(job, item);
    }
    return rc;
}

/* The file's nodes join the stored ones in the builder (in line order, so
 * builder item kept + i is line entries[i]) and the whole tree is built. */
typedef struct validation {
    import_job *job;
    _Atomic bool failed;
    int rc;
    cutoff_diag diag;
} validation;

static void validate_run(validation *v)
{
    import_job *job = v->job;
    co__diag_clear(&v->diag);
    for (size_t i = 0; i < job->n && v->rc == 0; i++)
        v->rc = cutoff_tree_builder_add(job->builder, &job->entries[i].spec, &v->diag);
    if (v->rc == 0)
        v->rc = co__tree_builder_check(job->builder, &v->diag);
    if (v->rc != 0)
        atomic_store(&v->failed, true);
}

static void *validate_thread(void *arg)
{
    validate_run(arg);
    return NULL;
}

/* Writes the new and changed rows in id order; stops early when the
 * validation running beside it has failed. */
static int write_rows(import_job *job, validation *v, const cutoff_import_stats *st)
{
    const co__store_ops *ops = STORE_OPS(job->db);
    co__store *store = job->db->store;
    int rc = ops->node_write_begin(store, st->inserted + st->updated, job->existing);
    for (size_t k = 0; k < job->n && rc == 0; k++) {
        /* The entries are in line order, the writes in id order: fetch the
         * next rows' memory ahead of time (a third off the write time). */
        if (k + 8 < job->n) {
            __builtin_prefetch(&job->entries[job->keys[k + 8].entry]);
            __builtin_prefetch(job->keys[k + 8].id);
        }
        if (k + 4 < job->n)
            __builtin_prefetch(job->entries[job->keys[k + 4].entry].spec.parent);
        const import_entry *e = &job->entries[job->keys[k].entry];
        if (e->state != ENTRY_SAME)
            rc = ops->node_put(store, &e->spec);
        if (k % ABORT_CHECK_ROWS == 0 && atomic_load_explicit(&v->failed, memory_order_relaxed))
            return 0; /* the validation's error is the one to report */
    }
    return rc ? rc : ops->node_write_end(store);
}

/* Everything from the stored tree on; runs inside the import's
 * transaction. */
static int import_locked(import_job *job, const char *actor, input_hash *hash,
                         cutoff_import_stats *st)
{
    cutoff_db *db = job->db;
    cutoff_catalog_spec *catalog = NULL;
    validation v = {.job = job};
    atomic_init(&v.failed, false);
    pthread_t validator;
    int rc = co__db_catalog(db, &catalog, job->diag);
    if (rc != 0)
        goto out;
    if ((rc = cutoff_tree_builder_new(catalog, &job->builder, job->diag)) != 0 ||
        (rc = cutoff_tree_builder_reserve(job->builder, job->n, job->id_bytes)) != 0)
        goto out;
    if ((rc = STORE_OPS(db)->node_iter(db->store, merge_stored, job)) != 0)
        goto out;
    for (size_t i = 0; i < job->n; i++) {
        uint8_t s = job->entries[i].state;
        st->inserted += s == ENTRY_NEW;
        st->updated += s == ENTRY_CHANGED;
        st->unchanged += s == ENTRY_SAME;
    }
    st->lines = job->n;

    /* Validation and writing are independent until the commit: run them
     * side by side on large inputs. The store is used by this thread only. */
    bool parallel = job->n * 64 >= PARALLEL_MIN_BYTES && online_cpus() > 1 &&
                    pthread_create(&validator, NULL, validate_thread, &v) == 0;
    if (!parallel)
        validate_run(&v);
    int write_rc = parallel || v.rc == 0 ? write_rows(job, &v, st) : 0;
    if (parallel)
        pthread_join(validator, NULL);
    if (v.rc != 0) {
        if (job->diag)
            *job->diag = v.diag;
        rc = blame(job, v.rc);
        goto out;
    }
    if ((rc = write_rc) != 0)
        goto out;
    hash_finish(hash, false);
    /* An import that changes no node is recorded, but changes nothing a
     * reader of the tree would have to rebuild. */
    unsigned change = st->inserted + st->updated ? CUTOFF_CHANGE_TREE : 0;
    rc = co__db_audit(db, change, co__db_wall_now(), actor, "nodes.import", "nodes",
                      json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "source", job->source, "lines",
                                (json_int_t)st->lines, "inserted", (json_int_t)st->inserted,
                                "updated", (json_int_t)st->updated, "unchanged",
                                (json_int_t)st->unchanged, "sha256", hash->hex));
out:
    cutoff_catalog_free(catalog);
    return co__db_store_fail(db, rc, job->diag, "importing nodes");
}

int cutoff_db_nodes_import(cutoff_db *db, const char *actor, FILE *in, const char *source,
                           cutoff_progress_fn progress, void *progress_ctx,
                           cutoff_import_stats *stats, cutoff_diag *diag)
{
    co__diag_clear(diag);
    co__buf text;
    co__buf_init(&text);
    input_hash hash = {.running = false};
    cutoff_import_stats st = {0};
    import_job job = {.db = db, .source = source ? source : "input", .diag = diag};
    int rc = co__db_check_actor(actor, diag);
    if (rc != 0)
        return rc;
    if (in == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no input given");
    if ((rc = read_input(in, job.source, &text, diag)) != 0)
        goto out;
    hash_start(&hash, text.data, text.len);
    if ((rc = parse_input(&job, text.data, text.len, &hash, progress, progress_ctx)) != 0)
        goto out;
    if ((rc = sort_and_check_duplicates(&job)) != 0)
        goto out;
    if ((rc = co__db_begin(db, diag)) != 0)
        goto out;
    rc = co__db_end(db, import_locked(&job, actor, &hash, &st), diag);
    if (rc == 0) {
        if (progress)
            progress(progress_ctx, job.lines_read);
        if (stats)
            *stats = st;
    }
out:
    hash_finish(&hash, rc != 0);
    cutoff_tree_builder_free(job.builder);
    co__free(job.keys);
    co__free(job.entries);
    co__buf_free(&text);
    return rc;
}

/* ===================================================================== */
/* Loading the tree                                                       */
/* ===================================================================== */

/* Reading the rows out of the store and adding them to the tree builder
 * take about equal time, so for large trees they run on two threads: the
 * store's iteration copies rows into batches, a second thread adds the
 * batches to the builder in order. */
#define PIPE_MIN_ROWS 100000
#define BATCH_ROWS 16384
#define BATCHES 4

/* String offsets into a batch's text (0: NULL, else offset + 1) while it
 * fills, since the text may move as it grows. */
typedef struct row_offsets {
    size_t id, parent, name, plan;
    cutoff_node_kind kind;
} row_offsets;

typedef struct row_batch {
    row_offsets *rows;
    cutoff_node_spec *specs;
    size_t n;
    co__buf text;
} row_batch;

typedef struct tree_load {
    cutoff_tree_builder *builder;
    cutoff_diag *diag;
    /* the pipeline */
    row_batch batches[BATCHES];
    uint64_t produced, consumed; /* batches handed over / added */
    bool done;                   /* no more batches will come */
    int add_rc;                  /* the adding thread's failure */
    cutoff_diag add_diag;
    pthread_mutex_t lock;
    pthread_cond_t changed;
} tree_load;

static int load_node(void *ctx, const cutoff_node_spec *node)
{
    tree_load *l = ctx;
    return cutoff_tree_builder_add(l->builder, node, l->diag);
}

static size_t keep_text(co__buf *text, const char *s, int *rc)
{
    if (s == NULL)
        return 0;
    size_t at = text->len;
    if (co__buf_append(text, s, strlen(s) + 1) != 0)
        *rc = CUTOFF_ENOMEM;
    return at + 1;
}

static const char *text_at(const co__buf *text, size_t off)
{
    return off ? text->data + off - 1 : NULL;
}

/* Hands the filling batch to the adding thread and waits for a free one.
 * Returns the adding thread's failure, if any. */
static int pass_batch(tree_load *l)
{
    row_batch *b = &l->batches[l->produced % BATCHES];
    for (size_t i = 0; i < b->n; i++)
        b->specs[i] = (cutoff_node_spec){.id = text_at(&b->text, b->rows[i].id),
                                         .kind = b->rows[i].kind,
                                         .parent = text_at(&b->text, b->rows[i].parent),
                                         .name = text_at(&b->text, b->rows[i].name),
                                         .plan = text_at(&b->text, b->rows[i].plan)};
    pthread_mutex_lock(&l->lock);
    l->produced++;
    pthread_cond_broadcast(&l->changed);
    while (l->produced - l->consumed == BATCHES && l->add_rc == 0)
        pthread_cond_wait(&l->changed, &l->lock);
    int rc = l->add_rc;
    pthread_mutex_unlock(&l->lock);
    row_batch *next = &l->batches[l->produced % BATCHES];
    next->n = 0;
    next->text.len = 0;
    return rc;
}

static int queue_node(void *ctx, const cutoff_node_spec *node)
{
    tree_load *l = ctx;
    row_batch *b = &l->batches[l->produced % BATCHES];
    int rc = 0;
    b->rows[b->n] = (row_offsets){.id = keep_text(&b->text, node->id, &rc),
                                  .kind = node->kind,
                                  .parent = keep_text(&b->text, node->parent, &rc),
                                  .name = keep_text(&b->text, node->name, &rc),
                                  .plan = keep_text(&b->text, node->plan, &rc)};
    if (rc != 0)
        return rc;
    return ++b->n == BATCH_ROWS ? pass_batch(l) : 0;
}

static void *add_batches(void *arg)
{
    tree_load *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (l->consumed == l->produced && !l->done)
            pthread_cond_wait(&l->changed, &l->lock);
        if (l->consumed == l->produced)
            break;
        const row_batch *b = &l->batches[l->consumed % BATCHES];
        pthread_mutex_unlock(&l->lock);
        int rc = 0;
        for (size_t i = 0; i < b->n && rc == 0; i++)
            rc = cutoff_tree_builder_add(l->builder, &b->specs[i], &l->add_diag);
        pthread_mutex_lock(&l->lock);
        l->consumed++;
        l->add_rc = rc;
        pthread_cond_broadcast(&l->changed);
        if (rc != 0)
            break;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Feeds every stored node to the builder, through the two-thread pipeline
 * when there are many. */
static int load_nodes(cutoff_db *db, tree_load *l, uint64_t count)
{
    pthread_t adder;
    int rc = 0;
    if (count < PIPE_MIN_ROWS || online_cpus() < 2)
        return STORE_OPS(db)->node_iter(db->store, load_node, l);
    for (size_t i = 0; i < BATCHES; i++) {
        row_batch *b = &l->batches[i];
        co__buf_init(&b->text);
        b->rows = co__malloc(BATCH_ROWS * sizeof *b->rows);
        b->specs = co__malloc(BATCH_ROWS * sizeof *b->specs);
        if (b->rows == NULL || b->specs == NULL)
            rc = CUTOFF_ENOMEM;
    }
    co__diag_clear(&l->add_diag);
    if (rc == 0 && pthread_mutex_init(&l->lock, NULL) == 0) {
        if (pthread_cond_init(&l->changed, NULL) == 0) {
            if (pthread_create(&adder, NULL, add_batches, l) == 0) {
                rc = STORE_OPS(db)->node_iter(db->store, queue_node, l);
                if (rc == 0 && l->batches[l->produced % BATCHES].n > 0)
                    rc = pass_batch(l);
                pthread_mutex_lock(&l->lock);
                l->done = true;
                pthread_cond_broadcast(&l->changed);
                pthread_mutex_unlock(&l->lock);
                pthread_join(adder, NULL);
                if (l->add_rc != 0) {
                    rc = l->add_rc;
                    if (l->diag)
                        *l->diag = l->add_diag;
                }
            } else {
                rc = STORE_OPS(db)->node_iter(db->store, load_node, l);
            }
            pthread_cond_destroy(&l->changed);
        }
        pthread_mutex_destroy(&l->lock);
    }
    for (size_t i = 0; i < BATCHES; i++) {
        co__free(l->batches[i].rows);
        co__free(l->batches[i].specs);
        co__buf_free(&l->batches[i].text);
    }
    return rc;
}

/* Reads the catalog and every node in one consistent read and compiles
 * them. A stored tree that does not build is a damaged database. */
int cutoff_db_load_tree(cutoff_db *db, cutoff_tree **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    cutoff_catalog_spec *catalog = NULL;
    int rc = co__db_begin_read(db, diag);
    if (rc != 0)
        return rc;
    if ((rc = co__db_catalog(db, &catalog, diag)) == 0)
        rc = co__db_tree_on(db, catalog, out, diag);
    rc = co__db_store_fail(db, rc, diag, "loading the tree");
    rc = co__db_end(db, rc, diag);
    cutoff_catalog_free(catalog);
    return rc;
}

int co__db_tree_on(cutoff_db *db, const cutoff_catalog_spec *catalog, cutoff_tree **out,
                   cutoff_diag *diag)
{
    tree_load load = {.diag = diag};
    uint64_t count = 0;
    int rc = cutoff_tree_builder_new(catalog, &load.builder, diag);
    if (rc != 0)
        goto out;
    if ((rc = STORE_OPS(db)->node_count(db->store, &count)) != 0 ||
        (rc = cutoff_tree_builder_reserve(load.builder, (size_t)count, 0)) != 0)
        goto out;
    if ((rc = load_nodes(db, &load, count)) != 0) {
        if (rc != CUTOFF_ENOMEM && rc != CUTOFF_ESTORE && diag)
            co__diag_prefix(diag, "the database holds an invalid node: ");
        goto out;
    }
    if ((rc = cutoff_tree_build(load.builder, out, diag)) != 0 && rc != CUTOFF_ENOMEM && diag)
        co__diag_prefix(diag, "the stored tree does not build: ");
out:
    cutoff_tree_builder_free(load.builder);
    return rc;
}

/* ===================================================================== */
/* Showing a node                                                         */
/* ===================================================================== */

/* What one scan of the nodes tells about the tenants and units: for each,
 * its parent and how many children (and subscriptions among them) it has.
 * Subscriptions are the bulk of a tree and are only counted, never kept,
 * so the census stays small; the nodes table needs no index on parent
 * (which would cost more than anything else in a bulk import). */
typedef struct census_rec {
    uint64_t id_off;        /* into census.names */
    uint32_t parent;        /* record index, CENSUS_NONE for none */
    uint32_t children;      /* direct children */
    uint64_t subscriptions; /* direct children that are subscriptions */
    uint8_t seen;           /* the node itself was scanned (not only named as a parent) */
    uint8_t below;          /* 0 unknown, 1 in the subtree, 2 not */
} census_rec;

#define CENSUS_NONE UINT32_MAX

typedef struct census {
    census_rec *recs;
    uint32_t n, cap;
    uint32_t *slots; /* record index + 1 */
    uint32_t mask;
    co__buf names;
    int rc;
} census;

/* Doubles the records and the hash slots (kept at most half full). */
static int census_grow(census *c)
{
    uint32_t cap = c->cap ? c->cap * 2 : 1024;
    census_rec *recs = co__realloc(c->recs, (size_t)cap * sizeof *recs);
    if (recs == NULL)
        return c->rc = CUTOFF_ENOMEM;
    c->recs = recs;
    uint32_t *slots = co__calloc((size_t)cap * 2, sizeof *slots);
    if (slots == NULL)
        return c->rc = CUTOFF_ENOMEM;
    c->cap = cap;
    co__free(c->slots);
    c->slots = slots;
    c->mask = cap * 2 - 1;
    for (uint32_t i = 0; i < c->n; i++) {
        const char *name = c->names.data + c->recs[i].id_off;
        uint32_t k = (uint32_t)co__hash(name, strlen(name)) & c->mask;
        while (c->slots[k])
            k = (k + 1) & c->mask;
        c->slots[k] = i + 1;
    }
    return 0;
}

/* The record of id, added when missing and `add` is set. */
static uint32_t census_find(census *c, const char *id, bool add)
{
    if (c->slots == NULL && (!add || census_grow(c) != 0))
        return CENSUS_NONE;
    size_t len = strlen(id);
    uint32_t h = (uint32_t)co__hash(id, len) & c->mask;
    for (; c->slots[h]; h = (h + 1) & c->mask) {
        uint32_t i = c->slots[h] - 1;
        if (strcmp(c->names.data + c->recs[i].id_off, id) == 0)
            return i;
    }
    if (!add)
        return CENSUS_NONE;
    if (c->n == c->cap) {
        if (census_grow(c) != 0)
            return CENSUS_NONE;
        h = (uint32_t)co__hash(id, len) & c->mask;
        while (c->slots[h])
            h = (h + 1) & c->mask;
    }
    uint64_t off = c->names.len;
    if (co__buf_append(&c->names, id, len + 1) != 0) {
        c->rc = CUTOFF_ENOMEM;
        return CENSUS_NONE;
    }
    c->recs[c->n] = (census_rec){.id_off = off, .parent = CENSUS_NONE};
    c->slots[h] = c->n + 1;
    return c->n++;
}

static int census_add(void *ctx, const cutoff_node_spec *node)
{
    census *c = ctx;
    uint32_t parent = CENSUS_NONE;
    if (node->parent) {
        if ((parent = census_find(c, node->parent, true)) == CENSUS_NONE)
            return c->rc;
        c->recs[parent].children++;
        c->recs[parent].subscriptions += node->kind == CUTOFF_NODE_SUBSCRIPTION;
    }
    if (node->kind != CUTOFF_NODE_SUBSCRIPTION) {
        uint32_t self = census_find(c, node->id, true);
        if (self == CENSUS_NONE)
            return c->rc;
        c->recs[self].parent = parent;
        c->recs[self].seen = 1;
    }
    return 0;
}

static void census_free(census *c)
{
    co__free(c->recs);
    co__free(c->slots);
    co__buf_free(&c->names);
}

/* Whether record i lies below (or is) top, remembering the answer for
 * every record on the way up. */
static bool census_below(census *c, uint32_t i, uint32_t top)
{
    uint32_t at = i, steps = 0;
    uint8_t answer = 2;
    while (at != CENSUS_NONE && steps++ <= c->n) {
        if (at == top || c->recs[at].below == 1) {
            answer = 1;
            break;
        }
        if (c->recs[at].below == 2)
            break;
        at = c->recs[at].parent;
    }
    for (at = i, steps = 0; at != CENSUS_NONE && c->recs[at].below == 0 && steps++ <= c->n;
         at = c->recs[at].parent)
        c->recs[at].below = answer;
    return answer == 1;
}

typedef struct covering {
    json_t *list;
    const char *node;
    char *const *ancestors;
    size_t n_ancestors;
} covering;

/* Adds an action version to the list when one of its scope nodes is the
 * node or an ancestor; only versions that bite or may bite (active,
 * draft) count. */
static int add_if_covering(void *ctx, const co__action_row *row)
{
    covering *c = ctx;
    if (row->state != CUTOFF_STATE_ACTIVE && row->state != CUTOFF_STATE_DRAFT)
        return 0;
    cutoff_action_spec *a = NULL;
    int rc = co__db_action_spec(row, &a);
    if (rc != 0)
        return rc;
    const char *via = NULL;
    for (size_t i = 0; i < a->n_scope && via == NULL; i++) {
        if (strcmp(a->scope[i], c->node) == 0)
            via = c->node;
        for (size_t k = 0; k < c->n_ancestors && via == NULL; k++)
            if (strcmp(a->scope[i], c->ancestors[k]) == 0)
                via = c->ancestors[k];
    }
    if (via) {
        bool ok = true;
        json_t *o = json_object();
        co__db_set(o, "id", json_string(row->id), &ok);
        co__db_set(o, "version", json_integer(row->version), &ok);
        co__db_set(o, "state",
                   json_string(cutoff_action_state_name((cutoff_action_state)row->state)), &ok);
        co__db_set(o, "case", json_string(row->case_id), &ok);
        co__db_set(o, "via", json_string(via), &ok);
        if (!ok)
            json_decref(o);
        rc = ok && json_array_append_new(c->list, o) == 0 ? 0 : CUTOFF_ENOMEM;
    }
    cutoff_action_free(a);
    return rc;
}

void co__lineage_free(co__lineage *l)
{
    for (size_t i = 0; i < l->n; i++)
        co__free(l->ids[i]);
    co__free(l->ids);
    co__free(l->plan);
    co__free(l->plan_from);
    memset(l, 0, sizeof *l);
}

int co__db_lineage(cutoff_db *db, const cutoff_node_spec *node, co__lineage *l)
{
    int rc = 0;
    char *strings = NULL;
    if (node->plan && ((l->plan = co__strdup(node->plan)) == NULL ||
                       (l->plan_from = co__strdup(node->id)) == NULL))
        return CUTOFF_ENOMEM;
    /* Up to the tenant; the bound only guards against a damaged store. */
    for (const char *next = node->parent; next != NULL && l->n < 100000;) {
        char **ids = co__realloc(l->ids, (l->n + 1) * sizeof *ids);
        if (ids == NULL) {
            rc = CUTOFF_ENOMEM;
            break;
        }
        l->ids = ids;
        if ((l->ids[l->n] = co__strdup(next)) == NULL) {
            rc = CUTOFF_ENOMEM;
            break;
        }
        const char *current = l->ids[l->n++];
        co__free(strings); /* `next` pointed into it; `current` is a copy */
        strings = NULL;
        cutoff_node_spec up;
        if ((rc = STORE_OPS(db)->node_get(db->store, current, &up, &strings)) != 0) {
            rc = rc == CUTOFF_ENOTFOUND ? CUTOFF_ESTORE : rc;
            break;
        }
        if (l->plan == NULL && up.plan &&
            ((l->plan = co__strdup(up.plan)) == NULL ||
             (l->plan_from = co__strdup(up.id)) == NULL)) {
            rc = CUTOFF_ENOMEM;
            break;
        }
        next = up.parent;
    }
    co__free(strings);
    return rc;
}

/* Everything about one node an operator asks for: its fields, where its
 * plan comes from, its ancestors, what hangs below it, and the actions
 * whose scope covers it. Counting below a tenant or unit takes one scan of
 * the nodes (a few seconds for ten million). */
int cutoff_db_node_show(cutoff_db *db, const char *id, char **json_out)
{
    cutoff_node_spec node;
    char *strings = NULL;
    co__lineage up = {0};
    census below = {0};
    uint64_t children = 0, descendants = 0, subscriptions = 0;
    json_t *o = NULL, *anc = NULL;
    bool ok = true;
    if (id == NULL)
        return CUTOFF_EINVAL;
    int rc = co__db_begin_read(db, NULL);
    if (rc != 0)
        return rc;
    if ((rc = STORE_OPS(db)->node_get(db->store, id, &node, &strings)) != 0 ||
        (rc = co__db_lineage(db, &node, &up)) != 0)
        goto out;
    if (node.kind != CUTOFF_NODE_SUBSCRIPTION) {
        if ((rc = STORE_OPS(db)->node_iter(db->store, census_add, &below)) != 0)
            goto out;
        uint32_t top = census_find(&below, node.id, false);
        if (top != CENSUS_NONE) {
            children = below.recs[top].children;
            for (uint32_t i = 0; i < below.n; i++)
                if (census_below(&below, i, top)) {
                    subscriptions += below.recs[i].subscriptions;
                    descendants += below.recs[i].subscriptions + (i != top && below.recs[i].seen);
                }
        }
    }

    o = json_object();
    co__db_set(o, "id", json_string(node.id), &ok);
    co__db_set(o, "kind", json_string(cutoff_node_kind_name(node.kind)), &ok);
    co__db_set(o, "parent", co__db_json_str(node.parent), &ok);
    co__db_set(o, "name", co__db_json_str(node.name), &ok);
    co__db_set(o, "plan", co__db_json_str(node.plan), &ok);
    co__db_set(o, "effective_plan", co__db_json_str(up.plan), &ok);
    co__db_set(o, "plan_from", co__db_json_str(up.plan_from), &ok);
    anc = json_array();
    for (size_t i = 0; anc && i < up.n; i++)
        if (json_array_append_new(anc, json_string(up.ids[i])) != 0)
            ok = false;
    co__db_set(o, "ancestors", anc, &ok);
    co__db_set(o, "children", json_integer((json_int_t)children), &ok);
    co__db_set(o, "descendants", json_integer((json_int_t)descendants), &ok);
    co__db_set(o, "subscriptions_below", json_integer((json_int_t)subscriptions), &ok);
    covering cov = {
        .list = json_array(), .node = node.id, .ancestors = up.ids, .n_ancestors = up.n};
    co__db_set(o, "actions", cov.list, &ok);
    if (!ok) {
        rc = CUTOFF_ENOMEM;
        goto out;
    }
    co__action_filter all = {.state = -1};
    if ((rc = STORE_OPS(db)->action_iter(db->store, &all, add_if_covering, &cov)) != 0)
        goto out;
    rc = co__db_json_take(o, json_out);
    o = NULL;
out:
    json_decref(o);
    rc = co__db_end(db, rc, NULL);
    census_free(&below);
    co__lineage_free(&up);
    co__free(strings);
    return rc;
}
