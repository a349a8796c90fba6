/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_keys.c - the Ed25519 signing keys (src/audit/key.c): a signature
 * verifies with the public key text alone; a flipped bit in the message or
 * the signature, or another key, is refused; malformed key and signature
 * text is EPARSE; the key file is created 0600 and never overwritten, and
 * one others may read is refused; a secret key file given as a public key
 * is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutoff.h"

static const char msg[] = "{\"n\":1,\"type\":\"cutoff-audit-head\"}";

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cutoff-keys-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/k", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char p[160];
    for (const char *const *n = (const char *const[]){"k", "pub", NULL}; *n; n++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, *n);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_sign_verify(void **state)
{
    (void)state;
    cutoff_key *k = NULL, *other = NULL;
    char sig[CUTOFF_SIGNATURE_TEXT_MAX];
    assert_int_equal(cutoff_key_generate(&k), 0);
    assert_int_equal(cutoff_key_generate(&other), 0);
    const char *pub = cutoff_key_public(k);
    assert_int_equal(strncmp(pub, "ed25519:", 8), 0);
    assert_int_equal(strlen(pub), 8 + 44);
    assert_int_equal(cutoff_public_key_check(pub, NULL), 0);
    assert_int_equal(cutoff_key_sign(k, msg, strlen(msg), sig), 0);
    assert_int_equal(strlen(sig), 88);
    assert_int_equal(cutoff_signature_verify(pub, msg, strlen(msg), sig), 0);

    /* One flipped bit in the message. */
    char changed[sizeof msg];
    memcpy(changed, msg, sizeof msg);
    changed[3] ^= 1;
    assert_int_equal(cutoff_signature_verify(pub, changed, strlen(changed), sig), CUTOFF_ETAMPER);
    /* One flipped bit in the signature (a base64 letter for another). */
    char bad_sig[CUTOFF_SIGNATURE_TEXT_MAX];
    memcpy(bad_sig, sig, sizeof bad_sig);
    bad_sig[10] = bad_sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(cutoff_signature_verify(pub, msg, strlen(msg), bad_sig), CUTOFF_ETAMPER);
    /* Another key. */
    assert_int_equal(cutoff_signature_verify(cutoff_key_public(other), msg, strlen(msg), sig),
                     CUTOFF_ETAMPER);
    cutoff_key_free(k);
    cutoff_key_free(other);
}

static void test_malformed_text(void **state)
{
    (void)state;
    cutoff_key *k = NULL;
    char sig[CUTOFF_SIGNATURE_TEXT_MAX];
    assert_int_equal(cutoff_key_generate(&k), 0);
    assert_int_equal(cutoff_key_sign(k, msg, strlen(msg), sig), 0);
    const char *pub = cutoff_key_public(k);
    char truncated[CUTOFF_PUBKEY_TEXT_MAX];
    snprintf(truncated, sizeof truncated, "%.*s", (int)strlen(pub) - 4, pub);
    static const char *const bad_keys[] = {"", "ed25519:", "rsa:AAAA", "ed25519:!!!!", NULL};
    for (const char *const *b = bad_keys; *b; b++) {
        assert_int_equal(cutoff_public_key_check(*b, NULL), CUTOFF_EPARSE);
        assert_int_equal(cutoff_signature_verify(*b, msg, strlen(msg), sig), CUTOFF_EPARSE);
    }
    assert_int_equal(cutoff_public_key_check(truncated, NULL), CUTOFF_EPARSE);
    assert_int_equal(cutoff_signature_verify(pub, msg, strlen(msg), "abc"), CUTOFF_EPARSE);
    assert_int_equal(cutoff_signature_verify(pub, msg, strlen(msg), NULL), CUTOFF_EPARSE);
    cutoff_key_free(k);
}

static void test_file_round_trip(void **state)
{
    fixture *f = *state;
    cutoff_key *k = NULL, *again = NULL;
    cutoff_diag diag = {0};
    struct stat st;
    assert_int_equal(cutoff_key_generate(&k), 0);
    assert_int_equal(cutoff_key_save(k, f->path, &diag), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cutoff_key_load(f->path, &again, &diag), 0);
    assert_string_equal(cutoff_key_public(again), cutoff_key_public(k));
    /* An existing file is never replaced. */
    assert_int_equal(cutoff_key_save(again, f->path, &diag), CUTOFF_EEXIST);
    cutoff_key_free(k);
    cutoff_key_free(again);
}

static void test_file_mode_refused(void **state)
{
    fixture *f = *state;
    cutoff_key *k = NULL;
    cutoff_diag diag = {0};
    assert_int_equal(cutoff_key_generate(&k), 0);
    assert_int_equal(cutoff_key_save(k, f->path, &diag), 0);
    cutoff_key_free(k);
    k = NULL;
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(cutoff_key_load(f->path, &k, &diag), CUTOFF_EPERM);
    assert_null(k);
    assert_non_null(strstr(diag.message, "chmod 600"));
}

static void test_not_a_key_file(void **state)
{
    fixture *f = *state;
    cutoff_key *k = NULL;
    cutoff_diag diag = {0};
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("cutoff-secret-key ed25519:not-base64\n", fp);
    fclose(fp);
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_int_equal(cutoff_key_load(f->path, &k, &diag), CUTOFF_EPARSE);
    assert_null(k);
}

static void test_public_key_file(void **state)
{
    fixture *f = *state;
    cutoff_key *k = NULL;
    cutoff_diag diag = {0};
    char pub[CUTOFF_PUBKEY_TEXT_MAX], path[160];
    assert_int_equal(cutoff_key_generate(&k), 0);
    assert_int_equal(cutoff_key_save(k, f->path, &diag), 0);
    /* The secret key file given where a public key belongs. */
    assert_int_equal(cutoff_public_key_read(f->path, pub, &diag), CUTOFF_EINVAL);
    assert_non_null(strstr(diag.message, "secret key"));
    snprintf(path, sizeof path, "%s/pub", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "  %s \n", cutoff_key_public(k));
    fclose(fp);
    assert_int_equal(cutoff_public_key_read(path, pub, &diag), 0);
    assert_string_equal(pub, cutoff_key_public(k));
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("ed25519:short\n", fp);
    fclose(fp);
    assert_int_equal(cutoff_public_key_read(path, pub, &diag), CUTOFF_EPARSE);
    cutoff_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_malformed_text),
        cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_key_file, setup, teardown),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
