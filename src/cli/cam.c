/* cam.c - `resnet cam PHOTO [-c CLASS] -o OUT.png`: where in the photo the network saw the
 * class. The class activation map of the class (7x7 for a 224 crop, 5x5 for 160, 14x14 at
 * output stride 16) is upsampled bilinearly over the part of the photo the network sees (the
 * centre crop), coloured and blended over the photo at its own size; what lies outside the
 * crop is shown grey (the network never saw it). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/eval.h"

/* A name as compared: lower case, '_' as ' '. 0 if it does not fit. */
static int fold_name(const char *s, size_t len, char *out, size_t cap) {
    if (len == 0 || len >= cap) return 0;
    for (size_t i = 0; i < len; i++) out[i] = s[i] == '_' ? ' ' : (char)tolower((unsigned char)s[i]);
    out[len] = '\0';
    return 1;
}

/* Levenshtein distance of a and b (both folded, shorter than 128): for "did you mean". */
static int edit_distance(const char *a, const char *b) {
    int row[128], la = (int)strlen(a), lb = (int)strlen(b);
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Calls fn(class, folded term) for each name of each class: its short name, then each of its
 * WordNet synonyms. Stops when fn returns non-zero. */
static void each_name(int (*fn)(int, const char *, void *), void *ctx) {
    char term[128];
    for (int c = 0; c < CLI_IMAGENET_CLASSES; c++) {
        const char *name = resnet_class_name(c);
        if (name && fold_name(name, strlen(name), term, sizeof term) && fn(c, term, ctx)) return;
        for (const char *p = cli_class_synonyms[c]; *p;) {
            size_t len = strcspn(p, ",");
            if (fold_name(p, len, term, sizeof term) && fn(c, term, ctx)) return;
            p += len;
            while (*p == ',' || *p == ' ') p++;
        }
    }
}

typedef struct {
    const char *want;             /* folded */
    int found, other;             /* the first class it names, and another one (ambiguous) */
    int best, best_class;         /* the closest name so far */
    char best_term[128];
} class_search;

static int match_name(int c, const char *term, void *ctx) {
    class_search *q = ctx;
    if (strcmp(term, q->want) == 0) {
        if (q->found < 0) q->found = c;
        else if (c != q->found && q->other < 0) q->other = c;
        return 0;
    }
    int d = edit_distance(term, q->want);
    if (d < q->best) {
        q->best = d;
        q->best_class = c;
        snprintf(q->best_term, sizeof q->best_term, "%s", term);
    }
    return 0;
}

/* A class given as an index (0..999), a WordNet id, torchvision's short name or one of its
 * WordNet synonyms ("rooster" is not one of "cock"'s: ImageNet lists none), any case, '_' for
 * ' ' ("tiger_cat"). A short name wins over a synonym: "crane" is 517, the machine, whose
 * short name it is, not 134 ("crane bird"), whose synonym it is. -1 if none matches or a
 * synonym names two classes; why, with the closest name, in msg. */
static int parse_class(const char *s, char *msg, size_t cap) {
    char *end;
    long v = strtol(s, &end, 10);
    snprintf(msg, cap, "an index 0-999 or a name such as 'tiger cat'");
    /* only digits: " 5" or "5 " is neither an index nor a name */
    if (isdigit((unsigned char)s[0]) && *end == '\0') return v >= 0 && v < RESNET_NUM_CLASSES ? (int)v : -1;
    char want[128];
    if (!fold_name(s, strlen(s), want, sizeof want)) return -1;
    /* the name as written first: ImageNet has a Cardigan (264, the dog) and a cardigan (474,
     * the sweater); without case, a name that is two classes' is refused, as eval does */
    int same_case = -1, any_case = -1, any_case_other = -1;
    for (int c = 0; c < RESNET_NUM_CLASSES; c++) {
        const char *name = resnet_class_name(c), *wnid = resnet_class_wnid(c);
        if (wnid && strcasecmp(wnid, s) == 0) return c;
        if (!name || strcasecmp(name, want) != 0) continue;
        size_t i = 0;
        while (name[i] && (name[i] == s[i] || (name[i] == ' ' && s[i] == '_'))) i++;
        if (!name[i] && !s[i] && same_case < 0) same_case = c;
        if (any_case < 0) any_case = c;
        else if (any_case_other < 0) any_case_other = c;
    }
    if (same_case >= 0) return same_case;
    if (any_case >= 0 && any_case_other < 0) return any_case;
    if (any_case >= 0) {
        snprintf(msg, cap, "it names both %d (%s) and %d (%s): give the index", any_case, resnet_class_name(any_case),
                 any_case_other, resnet_class_name(any_case_other));
        return -1;
    }
    class_search q = {.want = want, .found = -1, .other = -1, .best = 1 << 30, .best_class = -1};
    each_name(match_name, &q);
    if (q.found >= 0 && q.other < 0) return q.found;
    if (q.found >= 0)
        snprintf(msg, cap, "it names both %d (%s) and %d (%s): give the index", q.found, resnet_class_name(q.found),
                 q.other, resnet_class_name(q.other));
    else if (q.best_class >= 0 && q.best <= (int)strlen(want) / 2)
        snprintf(msg, cap, "the closest name is '%s', class %d (%s)", q.best_term, q.best_class,
                 resnet_class_name(q.best_class));
    return -1;
}

/* The extension of `path` when it names an image format other than PNG (".jpg"), else NULL:
 * cam writes PNG only, and PNG bytes under a .jpg name mislead whatever opens the file by its
 * name. Any other name (.png, none, .heat) is the user's choice. */
static const char *other_format(const char *path) {
    static const char *const exts[] = {".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm"};
    const char *base = strrchr(path, '/'), *dot;
    base = base ? base + 1 : path;
    if (!(dot = strrchr(base, '.')) || dot == base) return NULL;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0) return dot;
    return NULL;
}

enum { OPT_OPACITY = CLI_OPT_FIRST_OWN };

static const cli_option options[] = {
    CLI_OPTION_OUTPUT("OUT.png", "where to write the picture, a PNG (required; never the photo itself)"),
    CLI_OPTION("class", 'c', "CLASS", 'c', "index or name, e.g. 282 or 'tiger cat' (default: the top-1)"),
    CLI_OPTION("opacity", 0, "A", OPT_OPACITY, "of the colour scale, 0..1 (default 0.5)"),
    CLI_OPTION_FORCE,
    {0},
};

const cli_command cli_cam = {
    .name = "cam", .run = cmd_cam, .synopsis = "-o OUT.png PHOTO",
    .brief = "where in a photo the network saw a class (class activation map)",
    .about = "Writes the photo with the class activation map of a class laid over it (the centre crop\n"
             "the network sees; outside it, grey), and prints the class and the hottest point.\n"
             "PHOTO - reads it from standard input.",
    .options = options, .network = 1,
};

int cmd_cam(int argc, char **argv) {
    cli_common common = {0};
    const char *photo = NULL, *class_arg = NULL;
    double opacity = 0.5;
    int c;
    optind = 0;
    while ((c = cli_getopt(&cli_cam, argc, argv, &common)) != CLI_END) {
        switch (c) {
        case 'c': class_arg = optarg; break;
        case OPT_OPACITY:
            if (cli_parse_double("cam: --opacity", optarg, 0, 1, &opacity)) return 2;
            break;
        default: return CLI_EXIT_STATUS(c);
        }
    }
    const char *out = common.output;
    if (argc - optind > 1) return cli_usage_error("cam: one photo at a time ('%s' is a second)", argv[optind + 1]);
    if (optind < argc) photo = argv[optind];
    if (!photo) return cli_usage_error("cam: no photo given");
    if (!out || !*out) return cli_usage_error("cam: -o OUT.png is required (where to write the picture)");
    const char *ext = other_format(out);
    if (ext) return cli_usage_error("cam: -o %s: cam writes PNG, not the format %s names (name it .png)", out, ext);
    int cls = -1;
    char why[400] = "";
    /* ImageNet's names are checked before anything is loaded when the weights are surely
     * ImageNet's (the default file, no --labels): a typo costs no model load. Any other file
     * may name its own classes (resnet label writes them into it): once loaded, a network of
     * its own classes or names resolves the class itself, as eval reads a class. */
    const char *env_weights = getenv("RESNET_WEIGHTS");
    const int default_weights = !common.labels && !common.weights && !(env_weights && *env_weights);
    if (class_arg && !common.labels) cls = parse_class(class_arg, why, sizeof why);
    if (class_arg && default_weights && cls < 0 && !isdigit((unsigned char)class_arg[0]))
        return cli_usage_error("cam: unknown class '%s' (%s)", class_arg, why);
    char *photos[1] = {(char *)photo};
    if (cli_check_output(out, RN_KIND_PNG, &common, photos, cli_is_stdin(photo) ? 0 : 1, NULL, 0) != 0) return 1;

    /* The photo first: a bad photo should not cost a model load. */
    resnet_error err;
    resnet_image img = {0}, shown = {0};
    if (cli_is_stdin(photo)) { /* "-": decoded from memory, as resnet_image_load decodes a file */
        size_t size;
        const unsigned char *data = cli_stdin_bytes(&size, &err);
        if (!data || resnet_image_load_memory(data, size, CLI_STDIN_NAME, common.image_flags, &img, &err) != RESNET_OK)
            return cli_error("%s", err.message);
    } else if (resnet_image_load_ex(photo, common.image_flags, &img, &err) != RESNET_OK) {
        return cli_error("%s", err.message);
    }
    int rc = 1, nc = 0, mh = 0, mw = 0;
    resnet_model *model = NULL;
    resnet_session *s = NULL;
    float *input = NULL, *logits = NULL, *maps = NULL, *heat = NULL;
    char label[32];
    if (!(model = cli_load_classifier(&common, "cam"))) goto done;
    nc = resnet_model_classes(model);
    resnet_model_map_size(model, &mh, &mw); /* 7x7 for a 224 crop; --size and --output-stride change it */
    const int side = resnet_model_input_size(model);
    const size_t cells = (size_t)mh * mw;
    eval_classes classes;
    if (eval_classes_init(&classes, model) != 0) {
        cli_error("out of memory");
        goto done;
    }
    const int imagenet = classes.imagenet;
    if (class_arg && !imagenet) {
        cls = eval_class_of(&classes, class_arg);
        if (cls < 0) eval_class_why(&classes, class_arg, cls, why, sizeof why);
    }
    eval_classes_free(&classes);
    if (class_arg && (cls < 0 || cls >= nc)) {
        if (!imagenet)
            rc = cli_usage_error("cam: %s", why);
        else if (why[0] && !isdigit((unsigned char)class_arg[0]))
            rc = cli_usage_error("cam: unknown class '%s' (%s)", class_arg, why);
        else
            rc = cli_usage_error("cam: unknown class '%s' (an index 0-%d)", class_arg, nc - 1);
        goto done;
    }
    input = malloc((size_t)3 * side * side * sizeof(float));
    logits = malloc((size_t)nc * sizeof(float));
    maps = malloc((size_t)nc * cells * sizeof(float));
    heat = malloc((size_t)img.width * img.height * sizeof(float));
    if (!input || !logits || !maps || !heat) {
        cli_error("out of memory");
        goto done;
    }
    if (resnet_session_create(model, common.threads, 1, &s, &err) != RESNET_OK ||
        resnet_model_preprocess_image(model, &img, input, &err) != RESNET_OK) {
        cli_error("%s: %s", photo, err.message);
        goto done;
    }
    resnet_outputs o;
    resnet_outputs_init(&o);
    o.logits = logits;
    o.class_maps = maps;
    if (resnet_forward_ex(s, input, 1, &o, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    if (resnet_model_outputs_check(model, &o, 1, &err) != RESNET_OK) { /* inf, NaN, all equal: no answer */
        cli_error("%s: %s", photo, err.message);
        goto done;
    }
    resnet_softmax(logits, nc, logits);
    if (cls < 0) {
        resnet_prediction top;
        resnet_top_k(logits, nc, 1, &top);
        cls = top.index;
    }
    if (resnet_model_cam_heatmap(model, maps + (size_t)cls * cells, img.width, img.height, heat, &err) != RESNET_OK ||
        resnet_cam_overlay(&img, heat, (float)opacity, &shown, &err) != RESNET_OK ||
        resnet_image_write_png(&shown, out, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        goto done;
    }
    /* the hottest pixel of those inside the crop (outside it the heat is -1); a photo a pixel
     * or so thin across its longer side may have none whose centre falls inside the crop, and
     * then no point is named rather than a grey one */
    size_t hot = 0;
    for (size_t i = 1; i < (size_t)img.width * img.height; i++)
        if (heat[i] > heat[hot]) hot = i;
    cli_text(stdout, out);
    printf(": class %d ", cls);
    cli_text(stdout, resnet_model_class_label(model, cls, label, sizeof label)); /* a network's own names too */
    if (heat[hot] < 0)
        printf(" (%.2f%%), no hottest point: no pixel of the %dx%d photo lies inside the crop\n", 100.0 * logits[cls],
               img.width, img.height);
    else
        printf(" (%.2f%%), hottest at x=%d y=%d of %dx%d\n", 100.0 * logits[cls], (int)(hot % (size_t)img.width),
               (int)(hot / (size_t)img.width), img.width, img.height);
    rc = 0;
done:
    resnet_image_free(&img);
    resnet_image_free(&shown);
    resnet_session_free(s);
    resnet_model_free(model);
    free(input);
    free(logits);
    free(maps);
    free(heat);
    return rc;
}
