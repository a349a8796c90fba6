/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow_counts.c - the document in which a decision node stores what it
 * counted of a shadow run, made and read here only.
 *
 *   {"format": "cutoff-shadow-counts-v1", "ended": BOOL,
 *    "evaluated": N, "would_deny": N, "first": T, "last": T,
 *    "lines": [[ACTION, PHASE, MODE, N, FIRST, LAST], ...],
 *    "subscriptions": [[ID, N, FIRST, LAST, [[LINE, N, FIRST, LAST], ...], OVERFLOW], ...],
 *    "overflow": {"subscriptions": N, "lines": N},
 *    "sample": [[REQUEST_ID, T, SUBSCRIPTION, ACTION, REGION or null], ...]}
 *
 * Arrays rather than objects: a node may write thousands of rows every
 * heartbeat. LINE indexes "lines"; times are Unix seconds; the sample is
 * oldest first. Reading checks the whole document before adding any of it.
 */
#include "engine/shadow.h"
#include "format/format.h"
#include "util/util.h"

#include <jansson.h>
#include <string.h>

/* [N, FIRST, LAST] appended to a. */
static void put_seen(json_t *a, co__seen s)
{
    json_array_append_new(a, json_integer((json_int_t)s.count));
    json_array_append_new(a, json_integer(s.first));
    json_array_append_new(a, json_integer(s.last));
}

static json_t *tally_doc(co__tally *t)
{
    json_t *lines = json_array(), *subs = json_array(), *sample = json_array();
    for (uint32_t i = 0; i < t->n_lines; i++) {
        const co__tally_line *l = &t->lines[i];
        json_t *row = json_pack("[s,i,s]", l->action, l->phase, cutoff_mode_name(l->mode));
        put_seen(row, l->seen);
        json_array_append_new(lines, row);
    }
    for (uint32_t i = 0; i < t->n_subs; i++) {
        const co__tally_sub *s = &t->subs[i];
        json_t *cells = json_array();
        for (uint32_t k = 0; k < s->n_cells; k++) {
            json_t *c = json_pack("[I]", (json_int_t)s->cells[k].line);
            put_seen(c, s->cells[k].seen);
            json_array_append_new(cells, c);
        }
        json_t *row = json_pack("[s]", s->id);
        put_seen(row, s->seen);
        json_array_append_new(row, cells);
        json_array_append_new(row, json_integer((json_int_t)s->cells_overflow));
        json_array_append_new(subs, row);
    }
    size_t start = (t->ring_next + t->limits.sample - t->ring_n) % t->limits.sample;
    for (size_t k = 0; k < t->ring_n; k++) {
        const co__tally_sample *x = &t->ring[(start + k) % t->limits.sample];
        json_array_append_new(
            sample, json_pack("[s,I,s,s,o]", x->request_id, (json_int_t)x->at, x->subscription,
                              x->action, x->region[0] ? json_string(x->region) : json_null()));
    }
    return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:{s:I,s:I},s:o}", "format",
                     CO__SHADOW_COUNTS_FORMAT, "ended", atomic_load(&t->ended), "evaluated",
                     (json_int_t)atomic_load(&t->evaluated), "would_deny",
                     (json_int_t)t->total.count, "first", (json_int_t)t->total.first, "last",
                     (json_int_t)t->total.last, "lines", lines, "subscriptions", subs, "overflow",
                     "subscriptions", (json_int_t)t->subs_overflow, "lines",
                     (json_int_t)t->lines_overflow, "sample", sample);
}

int co__tally_to_json(co__tally *t, bool only_dirty, bool mark_written, char **out)
{
    *out = NULL;
    co__json_init();
    pthread_mutex_lock(&t->lock);
    uint64_t evaluated = atomic_load(&t->evaluated);
    if (only_dirty && t->written_total == t->total.count && t->written_evaluated == evaluated &&
        (t->written_total | t->written_evaluated) != 0) {
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    json_t *doc = tally_doc(t);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text && mark_written) {
        t->written_total = t->total.count;
        t->written_evaluated = evaluated;
    }
    pthread_mutex_unlock(&t->lock);
    /* jansson allocates through the library's wrapper: co__free releases it. */
    *out = text;
    return text ? 0 : CUTOFF_ENOMEM;
}

/* ---- reading ------------------------------------------------------------- */

static bool is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* [.., N, FIRST, LAST, ..] at index i of a. */
static bool get_seen(const json_t *a, size_t i, co__seen *out)
{
    const json_t *n = json_array_get(a, i), *f = json_array_get(a, i + 1),
                 *l = json_array_get(a, i + 2);
    if (!is_count(n) || !json_is_integer(f) || !json_is_integer(l))
        return false;
    *out =
        (co__seen){(uint64_t)json_integer_value(n), json_integer_value(f), json_integer_value(l)};
    return true;
}

static bool text_id(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) >= 1 &&
           json_string_length(v) <= CUTOFF_ID_MAX;
}

static cutoff_mode mode_of(const char *name)
{
    if (strcmp(name, "suspend") == 0)
        return CUTOFF_MODE_SUSPEND;
    return strcmp(name, "read-only") == 0 ? CUTOFF_MODE_READ_ONLY : CUTOFF_MODE_OFF;
}

/* One pass over the document: checking only (t NULL), or adding into t. */
static int walk(co__tally *t, json_t *doc, cutoff_diag *diag)
{
    json_t *lines = json_object_get(doc, "lines"), *subs = json_object_get(doc, "subscriptions"),
           *sample = json_object_get(doc, "sample"), *over = json_object_get(doc, "overflow");
    json_t *n = json_object_get(doc, "would_deny"), *first = json_object_get(doc, "first"),
           *last = json_object_get(doc, "last");
    if (!is_count(n) || !json_is_integer(first) || !json_is_integer(last) ||
        !json_is_array(lines) || !json_is_array(subs) || !json_is_array(sample) ||
        !json_is_object(over) || !is_count(json_object_get(doc, "evaluated")) ||
        !is_count(json_object_get(over, "subscriptions")) ||
        !is_count(json_object_get(over, "lines")))
        return co__diag(diag, CUTOFF_EPARSE, "not a %s document", CO__SHADOW_COUNTS_FORMAT);
    size_t n_lines = json_array_size(lines);
    uint32_t *map = NULL;
    if (t && (map = co__calloc(n_lines + 1, sizeof *map)) == NULL)
        return CUTOFF_ENOMEM;
    co__seen total = {(uint64_t)json_integer_value(n), json_integer_value(first),
                      json_integer_value(last)};
    int rc = 0;
    if (t) {
        atomic_fetch_add(&t->evaluated,
                         (uint64_t)json_integer_value(json_object_get(doc, "evaluated")));
        co__seen_add(&t->total, total);
        t->subs_overflow += (uint64_t)json_integer_value(json_object_get(over, "subscriptions"));
        t->lines_overflow += (uint64_t)json_integer_value(json_object_get(over, "lines"));
    }
    for (size_t i = 0; rc == 0 && i < n_lines; i++) {
        json_t *row = json_array_get(lines, i);
        co__seen s;
        json_t *phase = json_array_get(row, 1), *mode = json_array_get(row, 2);
        if (!json_is_array(row) || !text_id(json_array_get(row, 0)) || !is_count(phase) ||
            !json_is_string(mode) || !get_seen(row, 3, &s)) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "lines[%zu] is not [ACTION, PHASE, MODE, N, FIRST, LAST]", i);
            break;
        }
        if (t == NULL)
            continue;
        uint32_t index;
        int frc = co__tally_line_find(t, json_string_value(json_array_get(row, 0)),
                                      (int)json_integer_value(phase),
                                      mode_of(json_string_value(mode)), &index);
        if (frc == CUTOFF_ENOMEM)
            rc = frc;
        map[i] = frc == 0 ? index + 1 : 0;
        if (frc == 0)
            co__seen_add(&t->lines[index].seen, s);
        else
            t->lines_overflow += s.count;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(subs); i++) {
        json_t *row = json_array_get(subs, i), *cells = json_array_get(row, 4);
        co__seen s;
        if (!json_is_array(row) || !text_id(json_array_get(row, 0)) || !get_seen(row, 1, &s) ||
            !json_is_array(cells) || !is_count(json_array_get(row, 5))) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "subscriptions[%zu] is not [ID, N, FIRST, LAST, CELLS, OVERFLOW]", i);
            break;
        }
        for (size_t k = 0; rc == 0 && k < json_array_size(cells); k++) {
            json_t *c = json_array_get(cells, k);
            co__seen cs;
            if (!json_is_array(c) || !is_count(json_array_get(c, 0)) || !get_seen(c, 1, &cs) ||
                (size_t)json_integer_value(json_array_get(c, 0)) >= n_lines)
                rc = co__diag(diag, CUTOFF_EPARSE,
                              "subscriptions[%zu] cell %zu is not [LINE, N, FIRST, LAST]", i, k);
        }
        if (rc != 0 || t == NULL)
            continue;
        co__tally_sub *sub = NULL;
        int frc = co__tally_sub_find(t, json_string_value(json_array_get(row, 0)), &sub);
        if (frc == CUTOFF_ENOMEM) {
            rc = frc;
            break;
        }
        if (frc != 0) {
            t->subs_overflow += s.count;
            continue;
        }
        co__seen_add(&sub->seen, s);
        sub->cells_overflow += (uint64_t)json_integer_value(json_array_get(row, 5));
        for (size_t k = 0; k < json_array_size(cells); k++) {
            json_t *c = json_array_get(cells, k);
            co__seen cs;
            get_seen(c, 1, &cs);
            uint32_t line = map[json_integer_value(json_array_get(c, 0))];
            int crc = line ? co__tally_cell_add(t, sub, line - 1, cs) : CUTOFF_ELIMIT;
            if (crc == CUTOFF_ENOMEM)
                rc = crc;
            else if (crc != 0)
                sub->cells_overflow += cs.count;
        }
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(sample); i++) {
        json_t *row = json_array_get(sample, i), *region = json_array_get(row, 4);
        if (!json_is_array(row) || !json_is_string(json_array_get(row, 0)) ||
            !json_is_integer(json_array_get(row, 1)) || !text_id(json_array_get(row, 2)) ||
            !text_id(json_array_get(row, 3)) || !(json_is_null(region) || text_id(region))) {
            rc = co__diag(diag, CUTOFF_EPARSE,
                          "sample[%zu] is not [REQUEST_ID, T, SUBSCRIPTION, ACTION, REGION]", i);
            break;
        }
        if (t == NULL)
            continue;
        co__tally_sample x = {.at = json_integer_value(json_array_get(row, 1))};
        snprintf(x.request_id, sizeof x.request_id, "%s",
                 json_string_value(json_array_get(row, 0)));
        snprintf(x.subscription, sizeof x.subscription, "%s",
                 json_string_value(json_array_get(row, 2)));
        snprintf(x.action, sizeof x.action, "%s", json_string_value(json_array_get(row, 3)));
        snprintf(x.region, sizeof x.region, "%s",
                 json_is_string(region) ? json_string_value(region) : "");
        co__tally_sample_put(t, &x);
    }
    co__free(map);
    return rc;
}

int co__tally_merge_json(co__tally *t, const char *json, cutoff_diag *diag)
{
    json_error_t je;
    co__json_init();
    json_t *doc = json ? json_loads(json, JSON_REJECT_DUPLICATES, &je) : NULL;
    const char *format = json_string_value(json_object_get(doc, "format"));
    int rc = 0;
    if (doc == NULL || format == NULL || strcmp(format, CO__SHADOW_COUNTS_FORMAT) != 0)
        rc = co__diag(diag, CUTOFF_EPARSE, "not a %s document", CO__SHADOW_COUNTS_FORMAT);
    if (rc == 0)
        rc = walk(NULL, doc, diag);
    if (rc == 0) {
        pthread_mutex_lock(&t->lock);
        rc = walk(t, doc, diag);
        pthread_mutex_unlock(&t->lock);
    }
    json_decref(doc);
    return rc;
}

int cutoff_shadow_counts_json(const cutoff_shadow *s, size_t i, uint64_t *run, char **json_out)
{
    co__tally *t = co__shadow_tally(s, i, run);
    if (t == NULL || json_out == NULL)
        return CUTOFF_EINVAL;
    return co__tally_to_json(t, false, false, json_out);
}
