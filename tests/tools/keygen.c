/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keygen.c - makes a signing key for tests and the reference run:
 * `keygen SECRET_FILE PUBLIC_FILE` writes a new key (mode 0600, as
 * cutoff_key_save does) and its public key text on one line.
 */
#include "cutoff.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: keygen SECRET_FILE PUBLIC_FILE\n", stderr);
        return 2;
    }
    cutoff_key *key = NULL;
    cutoff_diag diag = {0};
    int rc = cutoff_key_generate(&key);
    if (rc == 0)
        rc = cutoff_key_save(key, argv[1], &diag);
    FILE *pub = rc == 0 ? fopen(argv[2], "wx") : NULL;
    if (rc == 0 && pub == NULL)
        rc = CUTOFF_EIO;
    if (pub && (fprintf(pub, "%s\n", cutoff_key_public(key)) < 0 || fclose(pub) != 0))
        rc = CUTOFF_EIO;
    cutoff_key_free(key);
    if (rc != 0) {
        fprintf(stderr, "keygen: %s\n", diag.message[0] ? diag.message : cutoff_strerror(rc));
        return 1;
    }
    return 0;
}
