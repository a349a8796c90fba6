/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - what the rest of the library may call in the engine beyond
 * include/cutoff.h.
 */
#ifndef CUTOFF_ENGINE_H
#define CUTOFF_ENGINE_H

#include "cutoff.h"

/* Refuses exactly what cutoff_tree_build would refuse, with the same
 * codes and messages, without building the tree (for a bulk import, which
 * only needs the verdict: the tree's hash table and ids are most of its
 * memory). Returns 0, CUTOFF_ENOMEM, or cutoff_tree_build's codes. */
int co__tree_builder_check(const cutoff_tree_builder *b, cutoff_diag *diag);

#endif
