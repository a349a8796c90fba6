/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key.c - Ed25519 signing keys (libsodium): the key that signs audit heads
 * and customer notices, its file, and checking a signature with nothing but
 * the public key. Two text forms, one line each:
 *
 *   public key  "ed25519:" + base64 of the 32-byte public key
 *   key file    "cutoff-secret-key ed25519:" + base64 of the 32-byte seed
 *
 * Signatures are base64 of the 64-byte detached signature. The key file is
 * created with O_EXCL and mode 0600, and refused when anyone but its owner
 * may read or write it: whoever reads it can sign in the operator's name.
 */
#include "cutoff.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUBLIC_PREFIX "ed25519:"
#define SECRET_PREFIX "cutoff-secret-key ed25519:"
#define B64 sodium_base64_VARIANT_ORIGINAL

struct cutoff_key {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char public_text[CUTOFF_PUBKEY_TEXT_MAX];
};

static int start(void)
{
    return sodium_init() < 0 ? CUTOFF_EIO : 0;
}

static void set_public_text(cutoff_key *k)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, k->sk);
    memcpy(k->public_text, PUBLIC_PREFIX, sizeof PUBLIC_PREFIX - 1);
    sodium_bin2base64(k->public_text + sizeof PUBLIC_PREFIX - 1,
                      sizeof k->public_text - (sizeof PUBLIC_PREFIX - 1), pk, sizeof pk, B64);
}

static int key_from_seed(const unsigned char seed[crypto_sign_SEEDBYTES], cutoff_key **out)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    cutoff_key *k = co__calloc(1, sizeof *k);
    if (k == NULL)
        return CUTOFF_ENOMEM;
    crypto_sign_seed_keypair(pk, k->sk, seed);
    set_public_text(k);
    *out = k;
    return 0;
}

int cutoff_key_generate(cutoff_key **out)
{
    if (out == NULL)
        return CUTOFF_EINVAL;
    int rc = start();
    if (rc != 0)
        return rc;
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    rc = key_from_seed(seed, out);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void cutoff_key_free(cutoff_key *key)
{
    if (key == NULL)
        return;
    sodium_memzero(key, sizeof *key);
    co__free(key);
}

const char *cutoff_key_public(const cutoff_key *key)
{
    return key ? key->public_text : NULL;
}

int cutoff_key_save(const cutoff_key *key, const char *path, cutoff_diag *diag)
{
    co__diag_clear(diag);
    char q[300];
    if (key == NULL || path == NULL || *path == '\0')
        return co__diag(diag, CUTOFF_EINVAL, "no key or no key file path given");
    co__quote(path, q, sizeof q);
    unsigned char seed[crypto_sign_SEEDBYTES];
    char line[sizeof SECRET_PREFIX + sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES, B64) + 1];
    crypto_sign_ed25519_sk_to_seed(seed, key->sk);
    memcpy(line, SECRET_PREFIX, sizeof SECRET_PREFIX - 1);
    sodium_bin2base64(line + sizeof SECRET_PREFIX - 1, sizeof line - sizeof SECRET_PREFIX, seed,
                      sizeof seed, B64);
    sodium_memzero(seed, sizeof seed);
    size_t len = strlen(line);
    line[len++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        sodium_memzero(line, sizeof line);
        if (e == EEXIST)
            return co__diag(diag, CUTOFF_EEXIST,
                            "key file \"%s\" exists; a key is never overwritten (rotate it, or "
                            "give a new path)",
                            q);
        return co__diag(diag, CUTOFF_EIO, "cannot create key file \"%s\": %s", q, strerror(e));
    }
    ssize_t n = write(fd, line, len);
    int e = errno;
    sodium_memzero(line, sizeof line);
    if (n != (ssize_t)len || fsync(fd) != 0) {
        if (n == (ssize_t)len)
            e = errno;
        close(fd);
        unlink(path);
        return co__diag(diag, CUTOFF_EIO, "cannot write key file \"%s\": %s", q,
                        strerror(e ? e : EIO));
    }
    if (close(fd) != 0) {
        unlink(path);
        return co__diag(diag, CUTOFF_EIO, "cannot write key file \"%s\": %s", q, strerror(errno));
    }
    return 0;
}

/* Reads the first line of a small file into buf (without its newline). */
static int read_line(const char *path, const char *what, char *buf, size_t size, struct stat *st,
                     cutoff_diag *diag)
{
    char q[300];
    co__quote(path, q, sizeof q);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return co__diag(diag, CUTOFF_EIO, "cannot open %s \"%s\": %s", what, q, strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return co__diag(diag, CUTOFF_EINVAL, "%s \"%s\" is not a regular file", what, q);
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return co__diag(diag, CUTOFF_EIO, "cannot read %s \"%s\": %s", what, q, strerror(errno));
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    if (len == (size_t)n && (size_t)n == size - 1) {
        sodium_memzero(buf, size);
        return co__diag(diag, CUTOFF_EPARSE, "%s \"%s\" is not a key file (its line is too long)",
                        what, q);
    }
    buf[len] = '\0';
    return 0;
}

int cutoff_key_load(const char *path, cutoff_key **out, cutoff_diag *diag)
{
    co__diag_clear(diag);
    char q[300], line[256];
    struct stat st;
    if (path == NULL || *path == '\0' || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no key file given");
    int rc = start();
    if (rc != 0)
        return co__diag(diag, rc, "the signing library could not start");
    co__quote(path, q, sizeof q);
    if ((rc = read_line(path, "key file", line, sizeof line, &st, diag)) != 0)
        return rc;
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || st.st_uid != geteuid()) {
        sodium_memzero(line, sizeof line);
        return co__diag(diag, CUTOFF_EPERM,
                        "key file \"%s\" must be readable by its owner only and owned by this "
                        "user (uid %u); it is uid %u, mode %03o: chmod 600 it",
                        q, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
    }
    unsigned char seed[crypto_sign_SEEDBYTES];
    size_t seed_len = 0;
    const char *end = NULL;
    if (strncmp(line, SECRET_PREFIX, sizeof SECRET_PREFIX - 1) != 0 ||
        sodium_base642bin(seed, sizeof seed, line + sizeof SECRET_PREFIX - 1,
                          strlen(line + sizeof SECRET_PREFIX - 1), NULL, &seed_len, &end,
                          B64) != 0 ||
        seed_len != sizeof seed || *end != '\0') {
        sodium_memzero(line, sizeof line);
        return co__diag(diag, CUTOFF_EPARSE,
                        "\"%s\" is not a cutoff key file (expected one line \"" SECRET_PREFIX
                        "BASE64\", as 'cutoff key create' writes)",
                        q);
    }
    sodium_memzero(line, sizeof line);
    rc = key_from_seed(seed, out);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* The 32 bytes of a public key text. */
static int public_key_bytes(const char *text, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    size_t len = 0;
    const char *end = NULL;
    if (text == NULL || strncmp(text, PUBLIC_PREFIX, sizeof PUBLIC_PREFIX - 1) != 0)
        return CUTOFF_EPARSE;
    text += sizeof PUBLIC_PREFIX - 1;
    if (sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, text, strlen(text), NULL, &len, &end,
                          B64) != 0 ||
        len != crypto_sign_PUBLICKEYBYTES || *end != '\0')
        return CUTOFF_EPARSE;
    return 0;
}

int cutoff_public_key_check(const char *text, cutoff_diag *diag)
{
    co__diag_clear(diag);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    if (public_key_bytes(text, pk) != 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "not a public key: expected \"" PUBLIC_PREFIX
                        "\" and 44 characters of base64 (as 'cutoff key show' prints)");
    return 0;
}

int cutoff_public_key_read(const char *path, char out[CUTOFF_PUBKEY_TEXT_MAX], cutoff_diag *diag)
{
    co__diag_clear(diag);
    char line[256], q[300];
    struct stat st;
    if (path == NULL || *path == '\0' || out == NULL)
        return co__diag(diag, CUTOFF_EINVAL, "no public key file given");
    int rc = read_line(path, "public key file", line, sizeof line, &st, diag);
    if (rc != 0)
        return rc;
    /* Leading and trailing blanks are a copy-and-paste artefact. */
    char *s = line + strspn(line, " \t");
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (strncmp(s, SECRET_PREFIX, sizeof SECRET_PREFIX - 1) == 0) {
        sodium_memzero(line, sizeof line);
        return co__diag(diag, CUTOFF_EINVAL,
                        "\"%s\" is a secret key file; give the public key ('cutoff key show' "
                        "prints it)",
                        co__quote(path, q, sizeof q));
    }
    if (cutoff_public_key_check(s, NULL) != 0)
        return co__diag(diag, CUTOFF_EPARSE,
                        "\"%s\" does not hold a public key: expected one line \"" PUBLIC_PREFIX
                        "BASE64\" (as 'cutoff key show' prints)",
                        co__quote(path, q, sizeof q));
    snprintf(out, CUTOFF_PUBKEY_TEXT_MAX, "%s", s);
    return 0;
}

int cutoff_key_sign(const cutoff_key *key, const void *msg, size_t len,
                    char sig_out[CUTOFF_SIGNATURE_TEXT_MAX])
{
    if (key == NULL || (msg == NULL && len > 0) || sig_out == NULL)
        return CUTOFF_EINVAL;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, msg, len, key->sk);
    sodium_bin2base64(sig_out, CUTOFF_SIGNATURE_TEXT_MAX, sig, sizeof sig, B64);
    return 0;
}

int cutoff_signature_verify(const char *public_key, const void *msg, size_t len,
                            const char *signature)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    size_t sig_len = 0;
    const char *end = NULL;
    if ((msg == NULL && len > 0) || start() != 0)
        return CUTOFF_EINVAL;
    if (public_key_bytes(public_key, pk) != 0 || signature == NULL ||
        sodium_base642bin(sig, sizeof sig, signature, strlen(signature), NULL, &sig_len, &end,
                          B64) != 0 ||
        sig_len != sizeof sig || *end != '\0')
        return CUTOFF_EPARSE;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : CUTOFF_ETAMPER;
}
