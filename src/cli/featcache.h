/* featcache.h - what the feature commands (embed, similar, train-head) share: the per-folder
 * feature cache and the features of many photos through it (featcache.c). */
#ifndef RN_CLI_FEATCACHE_H
#define RN_CLI_FEATCACHE_H

#include <stdio.h>
#include "cli/cli.h"

/* ---- features of many photos, cached per folder ---- */
typedef struct featcache featcache;

/* The cache of the photos under folder `dir` for the weights with this fingerprint: a file
 * in $RESNET_CACHE (or $XDG_CACHE_HOME/resnet, ~/.cache/resnet) /features/, named by the
 * fingerprint and the folder's real path. Entries are keyed by each photo's real path, size
 * and modification time, so an edited or replaced photo is recomputed. Never fails: an
 * unreadable or damaged cache is ignored (one warning) and rewritten. */
featcache *featcache_open(const char *dir, unsigned long long fingerprint, int dim);
/* Saves if anything changed (atomically; a failure is a warning) and frees. */
void featcache_close(featcache *c);
/* Frees without saving: for a run that stopped before it looked its photos up, whose
 * entries would otherwise all be dropped as unused. */
void featcache_discard(featcache *c);

/* Features (n x the network's feature dim) of paths with the cache c (may be NULL: compute all). ok[i] says which
 * photos worked; the others are reported on stderr. Shows progress on a terminal. Returns
 * the number that worked, or -1 on a fatal error (reported). *from_cache: how many hits. */
int cli_features(resnet_session *s, featcache *c, char *const *paths, int n, float *feats, char *ok,
                 int *from_cache);
/* cli_features, and errors[i] (n entries, NULL on entry) gets a copy of the message of each
 * photo that failed, for one record per photo (embed --json); free them. */
int cli_features_report(resnet_session *s, featcache *c, char *const *paths, int n, float *feats, char *ok,
                        int *from_cache, char **errors);

#endif
