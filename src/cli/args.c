/* args.c - the command line: getopt_long over a command's option table, the closest known
 * name for a typo, numbers without junk, and `resnet COMMAND --help`. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char *cli_current_command; /* main.c sets it: usage errors point at its --help */

/* A number as a person types it: an optional sign, then a digit (or '.'); strtol and strtod
 * would skip leading blanks, so " 5" would pass for 5. */
static int starts_like_number(const char *s) {
    if (*s == '-' || *s == '+') s++;
    return isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]));
}

int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end = NULL;
    errno = 0;
    long v = s && starts_like_number(s) ? strtol(s, &end, 10) : 0;
    if (!s || !end || end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        cli_usage_error("%s needs a whole number from %d to %d, got '%s'", flag, lo, hi, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = s && starts_like_number(s) ? strtod(s, &end) : 0;
    /* !(v >= lo) also refuses NaN */
    if (!s || !end || end == s || *end != '\0' || errno == ERANGE || !(v >= lo && v <= hi)) {
        cli_usage_error("%s needs a number from %g to %g, got '%s'", flag, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_tta(const char *s, resnet_tta *out) {
    int t = resnet_tta_parse(s);
    if (t < 0) {
        cli_usage_error("--tta must be none, flip, 10crop or multiscale, got '%s'", s ? s : "");
        return -1;
    }
    *out = (resnet_tta)t;
    return 0;
}

/* ---- options ---------------------------------------------------------------------------- */

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) of a[0..n) and b. */
static int distance(const char *a, size_t n, const char *b) {
    size_t m = strlen(b);
    if (n > 64 || m > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_closest(const char *s, size_t len, const char *const *names, int n) {
    const char *best = NULL;
    int bestd = 1000;
    for (int i = 0; i < n; i++) {
        /* a beginning ("train" for "train-head") is as good as one typo */
        int d = len > 0 && strncmp(names[i], s, len) == 0 ? 1 : distance(s, len, names[i]);
        if (d < bestd) bestd = d, best = names[i];
    }
    /* a third of the word may be wrong (at least one letter): "clasify", "--jsn", "thread" */
    int allowed = (int)(len + 2) / 3;
    return best && bestd <= (allowed > 1 ? allowed : 1) && bestd < (int)len ? best : NULL;
}

/* ---- a command's table: its own options, the network group, -h ------------------------- */

/* The options of every command that runs the network (cli_command.network): parsed into
 * cli_common by cli_getopt, listed in --help under a heading of their own. */
static const cli_option network_options[] = {
    CLI_OPTION("weights", 0, "FILE", CLI_OPT_WEIGHTS,
     "safetensors weights (default: $RESNET_WEIGHTS, else\n"
     "~/.cache/resnet/resnet50-v1-caffe.safetensors, made by 'resnet fetch')"),
    CLI_OPTION("threads", 0, "N", CLI_OPT_THREADS, "worker threads, 0 = one per core (default 0)"),
    CLI_OPTION("kernels", 0, "K", CLI_OPT_KERNELS, "auto, c, avx2 or avx512 (default auto: the best this CPU has)"),
    CLI_OPTION("direct", 0, NULL, CLI_OPT_DIRECT,
     "no Winograd for the early 3x3 convolutions (slower, closest to\nthe reference's arithmetic)"),
    CLI_OPTION("wide-winograd", 0, NULL, CLI_OPT_WIDE_WINOGRAD,
     "Winograd for the wider 3x3 convolutions too (ResNet-50's layer3\n"
     "and layer4): faster, about 1.4x the memory (docs/performance.md)"),
    CLI_OPTION("precision", 0, "P", CLI_OPT_PRECISION,
     "fp32 or bf16: an fp32 file converted to bf16 as it loads\n(default: as the weight file says)"),
    CLI_OPTION("exif-orientation", 0, NULL, CLI_OPT_EXIF_ORIENTATION,
     "turn photos upright as their EXIF orientation tag says\n"
     "(default: ignored, as PIL and torchvision, the reference, do)"),
    CLI_OPTION("labels", 0, "FILE", CLI_OPT_LABELS,
     "class names, one a line, as many as the network has classes\n"
     "(default: the file's, ImageNet's for 1000 classes, else 'class N')"),
    CLI_OPTION_INT("size", "N", CLI_OPT_SIZE, 32, 4096,
     "the crop the network sees: shorter side resized to N*256/224,\n"
     "centre N x N (default: the file's, else 224)"),
    CLI_OPTION_INT("output-stride", "N", CLI_OPT_OUTPUT_STRIDE, 8, 32,
     "8, 16 or 32 (default: the file's, else 32): dilate the last\n"
     "stages instead of striding them, for larger stage maps\n(bottleneck networks)"),
    {0},
};
static const cli_option help_option = CLI_OPTION("help", 'h', NULL, 'h', "this help");

enum { MAX_OPTIONS = 64 };
typedef struct table {
    const cli_option *o[MAX_OPTIONS]; /* own, then the network group, then -h */
    struct option lo[MAX_OPTIONS + 1]; /* getopt_long's, ending in {0} */
    char shortopts[2 * MAX_OPTIONS + 2];
    int n;
} table;

static void add(table *t, const cli_option *o) {
    if (t->n == MAX_OPTIONS) return; /* no command comes near */
    t->o[t->n] = o;
    t->lo[t->n] =
        (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->letter ? o->letter : o->id};
    t->n++;
}

/* ':' first: a missing value returns ':' (not '?'), so it gets its own message; -h first,
 * then the command's letters in its order. */
static void build(const cli_command *cmd, table *t) {
    memset(t, 0, sizeof *t);
    for (const cli_option *o = cmd->options; o && o->name; o++) add(t, o);
    if (cmd->network)
        for (const cli_option *o = network_options; o->name; o++) add(t, o);
    add(t, &help_option);
    size_t len = (size_t)snprintf(t->shortopts, sizeof t->shortopts, ":h");
    for (int i = 0; i < t->n - 1; i++)
        if (t->o[i]->letter) len += (size_t)snprintf(t->shortopts + len, sizeof t->shortopts - len, "%c%s",
                                                    t->o[i]->letter, t->o[i]->arg ? ":" : "");
}

/* The name of the long option in argv text "--name[=value]", into buf. */
static const char *long_name(const char *text, char *buf, size_t n) {
    if (text[0] == '-' && text[1] == '-') text += 2;
    size_t len = strcspn(text, "=");
    if (len >= n) len = n - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return buf;
}

/* "-k/--top, --json, ..." for a message: a command's options when none is close to a typo. */
static const char *option_list(const table *t, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->n && len < n; i++) {
        const cli_option *o = t->o[i];
        int w = o->letter ? snprintf(buf + len, n - len, "%s-%c/--%s", len ? ", " : "", o->letter, o->name)
                          : snprintf(buf + len, n - len, "%s--%s", len ? ", " : "", o->name);
        if (w < 0) break;
        len += (size_t)w;
    }
    return buf;
}

/* The unknown or ambiguous option of a '?' from getopt_long, reported. */
static int bad_option(const cli_command *cmd, const table *t, int argc, char **argv) {
    const int n = t->n;
    const char *names[MAX_OPTIONS];
    for (int i = 0; i < n; i++) names[i] = t->o[i]->name;
    const char *text = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (optopt == 0 || (text[0] == '-' && text[1] == '-' && strchr(text, '='))) { /* a long option */
        char name[80];
        long_name(text, name, sizeof name);
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], name) == 0 && !t->o[i]->arg)
                return cli_usage_error("%s: option '--%s' takes no value", cmd->name, name);
        char list[600] = "";
        int matches = 0;
        size_t len = strlen(name);
        for (int i = 0; i < n; i++)
            if (strncmp(names[i], name, len) == 0) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s--%s", matches++ ? ", " : "", names[i]);
            }
        if (matches > 1) return cli_usage_error("%s: option '--%s' is ambiguous: %s", cmd->name, name, list);
        const char *near = cli_closest(name, len, names, n);
        if (near) return cli_usage_error("%s: unknown option '--%s'; did you mean '--%s'?", cmd->name, name, near);
        return cli_usage_error("%s: unknown option '--%s'; its options are %s", cmd->name, name,
                               option_list(t, list, sizeof list));
    }
    /* An unknown letter. When it came from a word such as "-json" (a long option typed with
     * one dash), that word names the option meant. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (a[0] != '-' || a[1] == '-' || a[1] != optopt || strlen(a) < 3) continue;
        const char *near = cli_closest(a + 1, strcspn(a + 1, "="), names, n);
        if (near)
            return cli_usage_error("%s: unknown option '-%c' (in '%s'); did you mean '--%s'?", cmd->name, optopt, a,
                                   near);
        break;
    }
    char list[600];
    if (optopt > ' ' && optopt < 127)
        return cli_usage_error("%s: unknown option '-%c'; its options are %s", cmd->name, optopt,
                               option_list(t, list, sizeof list));
    return cli_usage_error("%s: unknown option '%s'", cmd->name, text);
}

/* A shared option (an id below CLI_OPT_FIRST_OWN) into *common: 0, or CLI_EXIT_USAGE after
 * reporting a bad value. */
static int shared_option(int id, cli_common *common) {
    switch (id) {
    case CLI_OPT_WEIGHTS:
        if (!*optarg) return cli_usage_error("--weights needs a file"), CLI_EXIT_USAGE;
        common->weights = optarg;
        return 0;
    case CLI_OPT_THREADS:
        return cli_parse_int("--threads", optarg, 0, 256, &common->threads) != 0 ? CLI_EXIT_USAGE : 0;
    case CLI_OPT_KERNELS: {
        int k = resnet_kernels_parse(optarg);
        if (k < 0)
            return cli_usage_error("--kernels must be auto, c, avx2 or avx512, got '%s'", optarg), CLI_EXIT_USAGE;
        common->kernels = (resnet_kernels)k;
        return 0;
    }
    case CLI_OPT_DIRECT: common->direct = 1; return 0;
    case CLI_OPT_WIDE_WINOGRAD: common->wide_winograd = 1; return 0;
    case CLI_OPT_LABELS:
        if (!*optarg) return cli_usage_error("--labels needs a file"), CLI_EXIT_USAGE;
        common->labels = optarg;
        return 0;
    case CLI_OPT_SIZE: common->size = cli_optint; return 0;
    case CLI_OPT_OUTPUT_STRIDE:
        if (cli_optint != 8 && cli_optint != 16 && cli_optint != 32)
            return cli_usage_error("--output-stride must be 8, 16 or 32, got %d", cli_optint), CLI_EXIT_USAGE;
        common->output_stride = cli_optint;
        return 0;
    case CLI_OPT_PRECISION: {
        int p = resnet_precision_parse(optarg);
        if (p != RESNET_PRECISION_FP32 && p != RESNET_PRECISION_BF16)
            return cli_usage_error("--precision must be fp32 or bf16, got '%s'", optarg), CLI_EXIT_USAGE;
        common->precision = p;
        common->precision_set = 1;
        return 0;
    }
    case CLI_OPT_EXIF_ORIENTATION: common->image_flags |= RESNET_IMAGE_EXIF_ORIENTATION; return 0;
    case CLI_OPT_OUTPUT:
        if (cli_output_arg("-o", optarg) != 0) return CLI_EXIT_USAGE;
        common->output = optarg;
        return 0;
    case CLI_OPT_FORCE: common->force = 1; return 0;
    case CLI_OPT_JSON: common->json = 1; return 0;
    case CLI_OPT_NO_CACHE: common->no_cache = 1; return 0;
    case CLI_OPT_TOP:
        return cli_parse_int("-k", optarg, 1, common->top_max ? common->top_max : RESNET_NUM_CLASSES, &common->top) != 0
                   ? CLI_EXIT_USAGE
                   : 0;
    default: /* CLI_OPT_TTA */
        return cli_parse_tta(optarg, &common->tta) != 0 ? CLI_EXIT_USAGE : 0;
    }
}

int cli_output_arg(const char *flag, const char *value) {
    if (!*value) return cli_usage_error("%s needs a file name", flag);
    /* "-" is standard input among the photos; as an output it made a file named "-" */
    if (strcmp(value, "-") == 0)
        return cli_usage_error("%s -: the output is a file, not standard output (./- names a file called -)", flag);
    return 0;
}

int cli_optint;

int cli_getopt(const cli_command *cmd, int argc, char **argv, cli_common *common) {
    table t;
    build(cmd, &t);
    opterr = 0; /* our messages, not getopt's */
    for (;;) {
        optopt = 0;
        int c = getopt_long(argc, argv, t.shortopts, t.lo, NULL);
        if (c == -1) return CLI_END;
        if (c == 'h') {
            cli_command_usage(cmd, stdout);
            return CLI_EXIT_HELP;
        }
        if (c == ':') {
            const char *text = argv[optind - 1];
            char name[80];
            if (text[0] == '-' && text[1] == '-')
                cli_usage_error("%s: option '--%s' needs a value", cmd->name, long_name(text, name, sizeof name));
            else
                cli_usage_error("%s: option '-%c' needs a value", cmd->name, optopt);
            return CLI_EXIT_USAGE;
        }
        if (c == '?') {
            bad_option(cmd, &t, argc, argv);
            return CLI_EXIT_USAGE;
        }
        const cli_option *o = NULL;
        for (int i = 0; i < t.n; i++)
            if (t.lo[i].val == c) o = t.o[i];
        const int id = o ? o->id : c;
        if (o && (o->lo || o->hi)) {
            char flag[80];
            snprintf(flag, sizeof flag, "--%s", o->name);
            if (cli_parse_int(flag, optarg, o->lo, o->hi, &cli_optint) != 0) return CLI_EXIT_USAGE;
        }
        if (id >= CLI_OPT_FIRST_OWN || id < CLI_OPT_WEIGHTS) return id;
        int r = shared_option(id, common);
        if (r) return r;
    }
}

/* "  -k, --top N           how many..." : the names to column 24 (two spaces after longer
 * ones), each further line of the help under the first. */
static void print_option(const cli_option *o, FILE *f) {
    char names[80], letter[8] = "    ";
    if (o->letter) snprintf(letter, sizeof letter, "-%c, ", o->letter);
    snprintf(names, sizeof names, "  %s--%s%s%s", letter, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, strlen(names) < 24 ? "%-24s" : "%s  ", names);
    for (const char *h = o->help; *h; h++) {
        fputc(*h, f);
        if (*h == '\n') fprintf(f, "%24s", "");
    }
    fputc('\n', f);
}

void cli_command_usage(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: resnet %s [options] %s\n%s\n\noptions:\n", cmd->name, cmd->synopsis, cmd->about);
    for (const cli_option *o = cmd->options; o && o->name; o++) print_option(o, f);
    print_option(&help_option, f);
    if (cmd->network) {
        fputs("\noptions of every command that runs the network:\n", f);
        for (const cli_option *o = network_options; o->name; o++) print_option(o, f);
    }
    if (cmd->notes) fprintf(f, "\n%s", cmd->notes);
}

void cli_list_options(const cli_command *cmd, FILE *f) {
    table t;
    build(cmd, &t);
    for (const char *s = t.shortopts + 1; *s; s++)
        if (*s != ':') fprintf(f, "-%c%s\n", *s, s[1] == ':' ? " VALUE" : "");
    for (int i = 0; i < t.n; i++) fprintf(f, "--%s%s\n", t.o[i]->name, t.o[i]->arg ? " VALUE" : "");
}
