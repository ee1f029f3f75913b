/* similar.c - `resnet similar QUERY DIR`: the photos under a folder ranked by the cosine
 * similarity of their features to one photo's (features cached per folder). */
#include <stdlib.h>
#include <string.h>

#include "cli/featcache.h"


static const cli_option similar_options[] = {
    CLI_OPTION_TOP("how many to print (default 10)"),
    CLI_OPTION_NO_CACHE,
    {0},
};

const cli_command cli_similar = {
    .name = "similar", .run = cmd_similar, .synopsis = "QUERY DIR",
    .brief = "the photos under a folder ranked by similarity to one photo",
    .about = "Ranks the photos under DIR by the cosine similarity of their features to QUERY's\n"
             "(- reads the query from standard input), best first; QUERY itself, when it is under\n"
             "DIR (by any path), is left out. Features are cached per folder.",
    .options = similar_options, .network = 1,
};

typedef struct scored {
    float score;
    int index;
} scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index); /* ties: listing order */
}

int cmd_similar(int argc, char **argv) {
    cli_common common = {.top = 10, .top_max = 1000000};
    const char *query = NULL, *dir = NULL;
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_similar, argc, argv, &common)) != CLI_END) return CLI_EXIT_STATUS(c);
    const int k = common.top, use_cache = !common.no_cache;
    if (argc - optind > 2) return cli_usage_error("similar: QUERY DIR expected, '%s' is one too many", argv[optind + 2]);
    if (optind < argc) query = argv[optind];
    if (optind + 1 < argc) dir = argv[optind + 1];
    if (!query || !dir) return cli_usage_error("similar: QUERY photo and DIR folder expected");
    resnet_file_list list = {0};
    resnet_error err;
    if (resnet_list_images(dir, &list, &err) != RESNET_OK) return cli_error("%s", err.message);
    for (int j = 0; j < list.n_problems; j++) cli_error("%s", list.problems[j]);
    /* the query itself is not an answer */
    int n = 0, query_in_dir = 0;
    for (int i = 0; i < list.count; i++) {
        if (!cli_is_stdin(query) && rn_same_file(list.paths[i], query)) {
            free(list.paths[i]);
            query_in_dir = 1;
            continue;
        }
        list.paths[n++] = list.paths[i];
    }
    list.count = n;
    int rc = 1;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    featcache *cache = NULL;
    float *feats = NULL, *q = NULL;
    char *ok = NULL, qok = 0;
    scored *rank = NULL;
    int DIM = 0;
    if (n == 0) {
        cli_error("no photos found in %s besides the query", dir);
        goto done;
    }
    if (!(model = cli_load_model(&common))) goto done;
    DIM = resnet_model_feature_dim(model);
    feats = malloc((size_t)n * DIM * sizeof(float));
    q = malloc((size_t)DIM * sizeof(float));
    ok = malloc((size_t)n);
    rank = malloc((size_t)n * sizeof *rank);
    if (!feats || !q || !ok || !rank) {
        cli_error("out of memory");
        goto done;
    }
    if (!(s = cli_session(model, &common, n < CLI_BATCH ? n : CLI_BATCH))) goto done;
    char *qp = (char *)query;
    if (use_cache) cache = featcache_open(dir, cli_cache_key(model, &common), resnet_model_feature_dim(model));
    /* A query that is one of the folder's photos goes through the folder's cache: it is an
     * entry there, which closing the cache would otherwise drop as unused. */
    if (cli_features(s, query_in_dir ? cache : NULL, &qp, 1, q, &qok, NULL) != 1) { /* already reported */
        featcache_discard(cache);
        cache = NULL;
        goto done;
    }
    int hits = 0, good = cli_features(s, cache, list.paths, n, feats, ok, &hits);
    featcache_close(cache);
    cache = NULL;
    if (good < 0) goto done;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (ok[i]) rank[m++] = (scored){resnet_cosine(q, feats + (size_t)i * DIM, DIM), i};
    qsort(rank, (size_t)m, sizeof *rank, by_score);
    for (int i = 0; i < m && i < k; i++) {
        printf("%8.4f  ", rank[i].score);
        cli_text(stdout, list.paths[rank[i].index]);
        putchar('\n');
    }
    rc = good < n || list.n_problems ? 1 : 0;
done:
    featcache_close(cache);
    free(q);
    resnet_session_free(s);
    resnet_model_free(model);
    resnet_file_list_free(&list);
    free(feats);
    free(ok);
    free(rank);
    return rc;
}
