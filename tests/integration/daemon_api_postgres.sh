#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# daemon_api.sh on the PostgreSQL store: the same checks, on a PostgreSQL 15 that
# tests/integration/lib.sh starts for it.
CUTOFF_TEST_STORE=postgresql exec bash "$(dirname "$0")/daemon_api.sh" "$@"
