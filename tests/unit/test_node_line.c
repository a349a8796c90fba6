/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_node_line.c - cutoff_node_parse_line (src/format/node_line.c, which
 * builds no JSON tree) against the jansson-based reading it replaced
 * (tests/support/node_line_jansson.c): every line, good or bad, must give
 * the same return code and message, and a good one the same node. The
 * lines are hand-written hostile ones, generated good ones, and random
 * mutations of both. Each line lies in a buffer of exactly its length, so
 * that AddressSanitizer sees a read past its end.
 *
 * CUTOFF_SEED=N replays a run; CUTOFF_NODE_LINES=N sets how many mutated
 * lines are tried.
 */
#include "../support/node_line_jansson.h"
#include "util/util.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static uint64_t seed;

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
    return n ? (size_t)(next(s) % n) : 0;
}

/* What the two readers made of the lines so far. */
typedef struct tally {
    size_t lines, accepted, refused, malformed, nomem;
} tally;

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void show(const char *line, size_t len)
{
    fprintf(stderr, "line (%zu bytes): \"", len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\"\n");
}

/* Both readers on the same bytes; fails the test on any difference. */
static void compare(const char *line, size_t len, tally *t)
{
    char *a = malloc(len ? len : 1), *b = malloc(len ? len : 1);
    assert_non_null(a);
    assert_non_null(b);
    memcpy(a, line, len);
    memcpy(b, line, len);
    cutoff_node_spec want = {0}, got = {0};
    cutoff_diag dw = {0}, dg = {0};
    int rw = ref_node_parse_line(a, len, &want, &dw);
    int rg = cutoff_node_parse_line(b, len, &got, &dg);
    bool same = rw == rg;
    if (same && rw != 0)
        same = dw.code == dg.code && strcmp(dw.message, dg.message) == 0;
    if (same && rw == 0)
        same = same_str(want.id, got.id) && want.kind == got.kind &&
               same_str(want.parent, got.parent) && same_str(want.name, got.name) &&
               same_str(want.plan, got.plan);
    if (!same) {
        show(line, len);
        fprintf(stderr, "jansson: %s %s\n", cutoff_errname(rw), rw ? dw.message : want.id);
        fprintf(stderr, "reader:  %s %s\n", cutoff_errname(rg), rg ? dg.message : got.id);
        fprintf(stderr, "replay: CUTOFF_SEED=%" PRIu64 "\n", seed);
    }
    t->lines++;
    t->accepted += rw == 0;
    t->refused += rw != 0;
    t->malformed += rw != 0 && strstr(dw.message, "malformed JSON") != NULL;
    t->nomem += rw == CUTOFF_ENOMEM;
    free(a);
    free(b);
    assert_true(same);
}

static void compare_str(const char *line, tally *t)
{
    compare(line, strlen(line), t);
}

/* ---- hand-written lines ------------------------------------------------------------ */

/* clang-format off */
static const char *const hostile[] = {
    /* good */
    "{\"id\":\"t\",\"kind\":\"tenant\"}",
    "{\"id\":\"unit-8200\",\"kind\":\"unit\",\"parent\":\"imod\",\"name\":\"Unit 8200\",\"plan\":\"enterprise\"}",
    "  {\"kind\":\"subscription\" , \"parent\" : \"u\",\"id\":\"s\"}\t\r",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"parent\":null,\"name\":null,\"plan\":null}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"caf\\u00e9 \\ud83d\\ude00 \\u20ac\\/\\\"\\\\\"}",
    "{\"\\u0069d\":\"t\",\"k\\u0069nd\":\"tenant\"}",
    "{\"id\":\"\\u0074\",\"kind\":\"tenant\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"Zürich €\"}",
    /* the JSON itself */
    "", " ", "{", "}", "[", "]", "[]", "{}", "[1,2]", "[1,]", "{,}", "{\"a\"}", "{\"a\":}",
    "{\"a\" 1}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"id\":\"t\",\"kind\":\"tenant\"}x",
    "{\"id\":\"t\",\"kind\":\"tenant\"} {}", "{\"id\":\"t\",\"kind\":\"tenant\"}]",
    "\"a string\"", "42", "-1.5e3", "true", "null", "nul", "tru", "falsey", "xyz", "#",
    "€", "\xc3", "\xff", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xe0\x80\xaf",
    "{\"id\":\"t\xff\",\"kind\":\"tenant\"}", "{\"id\":\"t\",\"kind\":\"tenant\"}\xc3",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"a\xe2\x82\"}",
    "{\"a\":[[[[[[[[[[[]]]]]]]]]]]}", "{\"a\":{\"b\":{\"c\":{}}}}", "{\"a\":{\"b\":1,\"b\":2}}",
    "{\"a\":[{\"x\":1},{\"x\":1,\"x\":1}]}",
    /* strings and escapes */
    "{\"id\":\"t\\q\",\"kind\":\"tenant\"}", "{\"id\":\"t\\u12\",\"kind\":\"tenant\"}",
    "{\"id\":\"t\\u12g4\",\"kind\":\"tenant\"}", "{\"id\":\"t\\",
    "{\"id\":\"t\\u", "{\"id\":\"t\\u00", "{\"id\":\"t", "{\"id\":\"", "{\"id",
    "{\"id\":\"a\\u0000b\",\"kind\":\"tenant\"}", "{\"a\\u0000\":1}", "{\"\\u0000\":1}",
    "{\"id\":\"\\ud800\",\"kind\":\"tenant\"}", "{\"id\":\"\\udc00\",\"kind\":\"tenant\"}",
    "{\"id\":\"\\ud800\\u0041\",\"kind\":\"tenant\"}", "{\"id\":\"\\ud800x\",\"kind\":\"tenant\"}",
    "{\"id\":\"\\uDBFF\\uDFFF\",\"kind\":\"tenant\"}", "{\"id\":\"\\uD83D\\uDE00\",\"kind\":\"tenant\"}",
    "{\"id\":\"a\tb\",\"kind\":\"tenant\"}", "{\"id\":\"a\x01\",\"kind\":\"tenant\"}",
    "{\"id\":\"a\x1f\",\"kind\":\"tenant\"}", "{\"id\":\"a\x7f\",\"kind\":\"tenant\"}",
    "{\"this key is longer than twenty bytes\":1}", "{\"id\":\"this id is longer than twenty\\q\"}",
    /* numbers */
    "{\"id\":1}", "{\"id\":-0}", "{\"id\":01}", "{\"id\":-}", "{\"id\":-a}", "{\"id\":1.}",
    "{\"id\":1.x}", "{\"id\":.5}", "{\"id\":1e}", "{\"id\":1e+}", "{\"id\":1E-5}", "{\"id\":1.5}",
    "{\"id\":9223372036854775807}", "{\"id\":9223372036854775808}", "{\"id\":-9223372036854775808}",
    "{\"id\":-9223372036854775809}", "{\"id\":123456789012345678901234567890}",
    "{\"id\":1e308}", "{\"id\":1e309}", "{\"id\":-1e309}", "{\"id\":1e-400}",
    "{\"id\":1.7976931348623158e308}", "{\"id\":1.7976931348623159e308}",
    "{\"id\":0x10}", "{\"id\":1,\"kind\":\"tenant\"}", "{\"id\":true}", "{\"id\":false}",
    "{\"id\":[]}", "{\"id\":{}}", "{\"id\":null,\"kind\":\"tenant\"}",
    /* the node line's rules */
    "{\"kind\":\"tenant\"}", "{\"id\":\"t\"}", "{\"id\":\"t\",\"kind\":1}", "{\"id\":\"t\",\"kind\":\"house\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"parent\":\"p\"}", "{\"id\":\"u\",\"kind\":\"unit\"}",
    "{\"id\":\"u\",\"kind\":\"unit\",\"parent\":null}", "{\"id\":\"u\",\"kind\":\"unit\",\"parent\":5}",
    "{\"id\":\"u\",\"kind\":\"unit\",\"parent\":\"a b\"}", "{\"id\":\"a b\",\"kind\":\"tenant\"}",
    "{\"id\":\"\",\"kind\":\"tenant\"}", "{\"id\":\"t\",\"kind\":\"tenant\",\"plan\":\"\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"plan\":7}", "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":7}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":[]}", "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"a\\nb\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"a\\u0007b\"}", "{\"id\":\"t\",\"kind\":\"tenant\",\"nmae\":\"x\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"ID\":\"x\"}", "{\"id\":\"t\",\"knd\":\"tenant\"}",
    "{\"x\":1,\"id\":\"t\",\"kind\":\"tenant\"}", "{\"id\":\"t\",\"kind\":\"tenant\",\"x\":1,\"y\":2}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"caf\\u00e9\":1}", "{\"id\":\"t\",\"kind\":\"tenant\",\"a\\tb\":1}",
    "{\"id\":\"t\",\"id\":\"u\",\"kind\":\"tenant\"}", "{\"id\":\"t\",\"\\u0069d\":\"u\",\"kind\":\"tenant\"}",
    "{\"id\":\"t\",\"kind\":\"tenant\",\"x\":1,\"x\":2}", "[{\"id\":\"t\",\"kind\":\"tenant\"}]",
    "{\"id\":\"t\",\"kind\":\"Tenant\"}", "{\"id\":\"t\",\"kind\":\"tenant \"}",
};
/* clang-format on */

static void test_hand_written_lines(void **state)
{
    (void)state;
    tally t = {0};
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
        compare_str(hostile[i], &t);

    /* NUL bytes inside the line, which strlen would not reach */
    static const struct {
        const char *s;
        size_t n;
    } nul[] = {
        {"\0", 1},
        {"{\"id\":\"t\",\"kind\":\"tenant\"}\0", 27},
        {"{\"id\":\"t\0\",\"kind\":\"tenant\"}", 27},
        {"[1\0]", 4},
        {"[true\0]", 7},
        {"[1.\0]", 5},
        {"{\"a\":nul\0l}", 11},
        {"{\0}", 3},
        {"[\0]", 3},
        {"{\"id\":\"t\",\"kind\":\"tenant\"\0}", 27},
    };
    for (size_t i = 0; i < sizeof nul / sizeof *nul; i++)
        compare(nul[i].s, nul[i].n, &t);

    /* long ones: ids past 128 bytes, a name past the limit, deep nesting */
    char *big = malloc(20000);
    assert_non_null(big);
    snprintf(big, 20000, "{\"id\":\"%0200d\",\"kind\":\"tenant\"}", 1);
    compare_str(big, &t);
    snprintf(big, 20000, "{\"id\":\"%0128d\",\"kind\":\"tenant\"}", 1);
    compare_str(big, &t);
    snprintf(big, 20000, "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"%04097d\"}", 1);
    compare_str(big, &t);
    snprintf(big, 20000, "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":\"%04096d\"}", 1);
    compare_str(big, &t);
    for (size_t depth = 2045; depth <= 2050; depth++) {
        size_t n = 0;
        n += (size_t)sprintf(big + n, "{\"a\":");
        for (size_t k = 0; k < depth; k++)
            big[n++] = '[';
        for (size_t k = 0; k < depth; k++)
            big[n++] = ']';
        big[n++] = '}';
        compare(big, n, &t);
    }
    /* many keys in one object, escaped and not, with a duplicate at the end */
    size_t n = (size_t)sprintf(big, "{\"a\":{");
    for (int k = 0; k < 300; k++)
        n += (size_t)sprintf(big + n, "%s\"%s%d\":%d", k ? "," : "", k % 2 ? "\\u006b" : "k", k, k);
    compare(big, n, &t);
    n += (size_t)sprintf(big + n, ",\"k7\":0}}");
    compare(big, n, &t);
    big[n - 5] = '8'; /* "k8": no duplicate */
    compare(big, n, &t);
    free(big);
    assert_true(t.accepted > 5);
    assert_true(t.malformed > 50);
}

/* ---- generated and mutated lines ----------------------------------------------------- */

static const char *const pieces[] = {
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\u00e9",
    "\\n",
    "\\\"",
    "\\/",
    "\\x",
    "0",
    "1",
    "-",
    ".",
    "e",
    "E",
    "+",
    "true",
    "false",
    "null",
    " ",
    "\t",
    "\r",
    "\n",
    "\x01",
    "\x7f",
    "\xc3\xa9",
    "\xc3",
    "\xa9",
    "\xff",
    "\xe2\x82\xac",
    "\xed\xa0\x80",
    "\xf0\x9f\x98\x80",
    "\"id\"",
    "\"kind\"",
    "\"parent\"",
    "\"name\"",
    "\"plan\"",
    "\"tenant\"",
    "\"unit\"",
    "\"subscription\"",
    "\"x\"",
    "99999999999999999999",
    "1e999",
};

static const char *const key_names[] = {"id", "kind", "parent", "name", "plan"};

/* A node line, usually good: some keys left out, reordered, escaped,
 * spaced; values of other types now and then. */
static size_t gen_line(uint64_t *s, char *out, size_t size)
{
    static const char *const kinds[] = {"tenant", "unit", "subscription", "team"};
    static const char *const names[] = {"Unit 8200",      "Zürich", "caf\\u00e9", "a\\\"b",
                                        "\\ud83d\\ude00", "",       "tab\\there", "x\\u0000y"};
    static const char *const ids[] = {"t-1",     "unit-8200", "sub:12", "a.b_c-d",
                                      "\\u0074", "bad id",    "",       "x\\u002fy"};
    size_t n = 0, order[5] = {0, 1, 2, 3, 4};
    for (size_t i = 4; i > 0; i--) {
        size_t j = below(s, i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    n += (size_t)snprintf(out + n, size - n, "%s{", below(s, 4) ? "" : " ");
    bool first = true;
    /* Half the lines follow the rules: a kind of the three, a parent
     * exactly when it is not a tenant, good ids. */
    bool coherent = below(s, 2) == 0;
    size_t kind = below(s, 3);
    for (size_t k = 0; k < 5; k++) {
        size_t key = order[k];
        if (coherent && key == 2 && kind == 0)
            continue;
        if (!coherent && key > 1 && below(s, 3) == 0)
            continue;
        if (!coherent && key <= 1 && below(s, 30) == 0)
            continue;
        const char *v;
        char buf[64];
        switch (coherent && key != 3 ? 19 : below(s, 20)) {
        case 0: v = "null"; break;
        case 1: v = "12"; break;
        case 2: v = "[\"a\"]"; break;
        case 3: v = "{\"a\":1}"; break;
        default:
            if (key == 1)
                snprintf(buf, sizeof buf, "\"%s\"",
                         kinds[coherent ? kind : below(s, below(s, 8) ? 3 : 4)]);
            else if (key == 3)
                snprintf(buf, sizeof buf, "\"%s\"", names[below(s, 8)]);
            else
                snprintf(buf, sizeof buf, "\"%s\"", ids[below(s, coherent || below(s, 4) ? 4 : 8)]);
            v = buf;
        }
        const char *name = key_names[key];
        if (!coherent && below(s, 40) == 0)
            name = below(s, 2) ? "nmae" : "\\u0069d";
        n += (size_t)snprintf(out + n, size - n, "%s%s\"%s\"%s:%s", first ? "" : ",",
                              below(s, 5) ? "" : " ", name, below(s, 5) ? "" : " ", v);
        first = false;
    }
    n += (size_t)snprintf(out + n, size - n, "}%s", below(s, 6) ? "" : "  ");
    return n < size ? n : size - 1;
}

/* A few random edits: bytes replaced, pieces inserted, spans deleted or
 * repeated, the end cut off. */
static size_t mutate(uint64_t *s, char *line, size_t n, size_t size)
{
    size_t edits = 1 + below(s, 4);
    for (size_t e = 0; e < edits; e++) {
        size_t at = below(s, n + 1);
        switch (below(s, 6)) {
        case 0: /* replace a byte */
            if (n > 0)
                line[below(s, n)] = (char)below(s, 256);
            break;
        case 1:
        case 2: { /* insert a piece */
            const char *p = pieces[below(s, sizeof pieces / sizeof *pieces)];
            size_t k = strlen(p);
            if (n + k < size) {
                memmove(line + at + k, line + at, n - at);
                memcpy(line + at, p, k);
                n += k;
            }
            break;
        }
        case 3: { /* delete a span */
            size_t k = below(s, 4) + 1;
            if (at + k <= n) {
                memmove(line + at, line + at + k, n - at - k);
                n -= k;
            }
            break;
        }
        case 4: { /* repeat a span */
            size_t k = below(s, 12) + 1;
            if (at + k <= n && n + k < size) {
                memmove(line + at + k, line + at, n - at);
                n += k;
            }
            break;
        }
        default: /* cut */ n = at;
        }
    }
    return n;
}

static void test_mutated_lines(void **state)
{
    (void)state;
    size_t count = 100000;
    const char *env = getenv("CUTOFF_NODE_LINES");
    if (env != NULL && *env != '\0')
        count = (size_t)strtoull(env, NULL, 10);
    uint64_t s = seed;
    tally t = {0};
    char line[1024];
    for (size_t i = 0; i < count; i++) {
        size_t n = gen_line(&s, line, sizeof line);
        if (below(&s, 2) != 0)
            n = mutate(&s, line, n, sizeof line);
        compare(line, n, &t);
    }
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
        for (int k = 0; k < 50; k++) {
            size_t n = strlen(hostile[i]);
            memcpy(line, hostile[i], n);
            compare(line, mutate(&s, line, n, sizeof line), &t);
        }
    printf("# %zu lines: %zu accepted, %zu refused (%zu malformed JSON)\n", t.lines, t.accepted,
           t.refused, t.malformed);
    /* the generator has to reach both sides */
    assert_true(t.accepted > t.lines / 10);
    assert_true(t.malformed > t.lines / 10);
}

/* Out of memory, where the reader allocates: keys past what it keeps on the
 * stack, escaped keys past its scratch, a long number. */
static void test_out_of_memory(void **state)
{
    (void)state;
    char *line = malloc(8000);
    assert_non_null(line);
    size_t n = (size_t)sprintf(line, "{\"id\":\"t\",\"kind\":\"tenant\",\"name\":{");
    for (int k = 0; k < 60; k++)
        n += (size_t)sprintf(line + n, "%s\"\\u006b%020d\":1", k ? "," : "", k);
    n += (size_t)sprintf(line + n, "},\"plan\":1%0100d.5}", 0);
    char *copy = malloc(n);
    assert_non_null(copy);
    long base = co__alloc_live(), failures;
    for (failures = 0; failures < 1000; failures++) {
        cutoff_node_spec spec;
        cutoff_diag d;
        memcpy(copy, line, n);
        co__alloc_fail_after(failures);
        int rc = cutoff_node_parse_line(copy, n, &spec, &d);
        co__alloc_fail_after(-1);
        assert_int_equal(co__alloc_live(), base);
        if (rc == CUTOFF_EPARSE) {
            assert_string_equal(d.message, "name: expected a string, got an object");
            break;
        }
        assert_int_equal(rc, CUTOFF_ENOMEM);
        assert_non_null(strstr(d.message, "out of memory"));
    }
    assert_true(failures > 0 && failures < 1000);
    free(copy);
    free(line);
}

static int setup_seed(void **state)
{
    (void)state;
    const char *env = getenv("CUTOFF_SEED");
    if (env != NULL && *env != '\0')
        seed = strtoull(env, NULL, 0);
    else
        seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    printf("# node line seed: CUTOFF_SEED=%" PRIu64 "\n", seed);
    fflush(stdout);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_written_lines),
        cmocka_unit_test(test_mutated_lines),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup_seed, NULL);
}
