/* output.c - output files: the check every writing command makes before it computes
 * anything, and the removal of temporaries on signals (writes go through io/atomic.c). */
#include <limits.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_check_output(const char *out, rn_file_kind kind, const cli_common *c, char *const *photos, int n,
                     const char *const *extra, int n_extra) {
    char buf[PATH_MAX];
    rn_file_id *ids = malloc(((size_t)n + (size_t)n_extra + 2) * sizeof *ids);
    if (!ids) return cli_error("out of memory");
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)rn_file_id_of(photos[i], &ids[k]);
    for (int i = 0; i < n_extra; i++) k += (size_t)rn_file_id_of(extra[i], &ids[k]);
    if (c) k += (size_t)rn_file_id_of(cli_weights_path(c, buf, sizeof buf), &ids[k]);
    /* --labels is read by the run as the weights are: --force never covers it either */
    if (c && c->labels) k += (size_t)rn_file_id_of(c->labels, &ids[k]);
    resnet_error err;
    resnet_status s = rn_output_check(out, kind, c && c->force, ids, k, &err);
    free(ids);
    return s == RESNET_OK ? 0 : cli_error("%s", err.message);
}

void cli_catch_signals(void) { rn_atomic_catch_signals(); }
