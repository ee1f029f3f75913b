/* head.c - a new final layer on the frozen pooled features: multinomial logistic regression
 * (softmax cross-entropy + L2), fitted with L-BFGS, early-stopped on a held-out split, saved
 * and loaded as safetensors.
 *
 * Why L-BFGS: the problem is smooth and strictly convex (the L2 term), small (classes x 2049
 * parameters) and the data fit in memory, so full-batch quasi-Newton converges in tens of
 * iterations where plain gradient descent needs thousands and a tuned step size. Early
 * stopping watches the validation loss after every iteration and keeps the best weights: with
 * a few hundred examples and 2048 dimensions the training loss alone can always be driven to
 * zero, and the validation split is what tells us when that stops helping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/fileio.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/resnet50.h"

#define MAX_CLASSES 100000
#define MAX_DIM (1 << 20)
#define LBFGS_M 8 /* pairs of history: the usual 5-10; memory is 2 x M x parameters floats */

struct resnet_head {
    int n_classes, dim;
    int l2_normalize;     /* 1: features are L2-normalised before weight * x + bias */
    float *weight;        /* n_classes x dim */
    float *bias;          /* n_classes */
    char **names;         /* n_classes UTF-8 names */
    char *backbone;       /* "" if none */
    resnet_train_report report; /* as trained (zero for a loaded head except what the file says) */
};

/* The size-versioned structs read and written here (resnet.h): their defaults, the end of
 * their last field in this library, and in the first published layout (1.0.0, never changes). */
static const resnet_train_options train_defaults = {
    .size = sizeof(resnet_train_options),
    .l2 = 1e-3f,
    .val_fraction = 0.2f,
    .max_iters = 500,
    .patience = 20,
    .l2_normalize = 1,
    .seed = 1,
};
static const rn_sized train_options_type = {"resnet_train_options", sizeof(resnet_train_options),
                                            RN_FIELD_END(resnet_train_options, progress_ctx),
                                            RN_FIELD_END(resnet_train_options, progress_ctx), &train_defaults};
static const resnet_train_report empty_report = {.size = sizeof(resnet_train_report)};
static const rn_sized train_report_type = {"resnet_train_report", sizeof(resnet_train_report),
                                           RN_FIELD_END(resnet_train_report, val_acc),
                                           RN_FIELD_END(resnet_train_report, val_acc), &empty_report};

void resnet_train_options_init_size(resnet_train_options *o, size_t size) { rn_sized_init(&train_options_type, o, size); }
void resnet_train_report_init_size(resnet_train_report *r, size_t size) { rn_sized_init(&train_report_type, r, size); }

void resnet_head_free(resnet_head *h) {
    if (!h) return;
    if (h->names)
        for (int i = 0; i < h->n_classes; i++) free(h->names[i]);
    free(h->names);
    free(h->weight);
    free(h->bias);
    free(h->backbone);
    free(h);
}

int resnet_head_classes(const resnet_head *h) { return h ? h->n_classes : 0; }
int resnet_head_dim(const resnet_head *h) { return h ? h->dim : 0; }
const char *resnet_head_class_name(const resnet_head *h, int i) {
    return h && i >= 0 && i < h->n_classes ? h->names[i] : NULL;
}
const char *resnet_head_backbone(const resnet_head *h) { return h && h->backbone ? h->backbone : ""; }

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static resnet_head *head_alloc(int k, int dim) {
    resnet_head *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->n_classes = k;
    h->dim = dim;
    h->weight = malloc((size_t)k * dim * sizeof(float));
    h->bias = malloc((size_t)k * sizeof(float));
    h->names = calloc((size_t)k, sizeof *h->names);
    if (!h->weight || !h->bias || !h->names) {
        resnet_head_free(h);
        return NULL;
    }
    return h;
}

/* ---- the objective ------------------------------------------------------------------- */

/* Softmax cross-entropy of the linear model theta = [W (k x d), b (k)] on rows z (n x d):
 * returns the mean loss (without the penalty), *acc the share of rows whose argmax is the
 * label, and when grad is not NULL adds the gradient of the mean loss to it. logit is k
 * doubles of scratch. */
static double cross_entropy(const double *theta, const float *z, const int *y, int n, int k, int d, double *grad,
                            double *logit, double *acc) {
    const double *w = theta, *b = theta + (size_t)k * d;
    double loss = 0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * d;
        int best = 0;
        for (int c = 0; c < k; c++) {
            const double *wc = w + (size_t)c * d;
            double s = b[c];
            for (int j = 0; j < d; j++) s += wc[j] * zi[j];
            logit[c] = s;
            if (s > logit[best]) best = c;
        }
        right += best == y[i];
        const double mx = logit[best];
        double sum = 0;
        for (int c = 0; c < k; c++) sum += exp(logit[c] - mx);
        const double lse = mx + log(sum);
        loss += lse - logit[y[i]];
        if (!grad) continue;
        for (int c = 0; c < k; c++) {
            /* d loss_i / d logit_c = softmax_c - [c == y] */
            const double r = (exp(logit[c] - lse) - (c == y[i])) / n;
            double *gc = grad + (size_t)c * d;
            for (int j = 0; j < d; j++) gc[j] += r * zi[j];
            grad[(size_t)k * d + c] += r;
        }
    }
    *acc = n ? (double)right / n : 0;
    return n ? loss / n : 0;
}

/* The training objective: mean cross-entropy + l2/2 |W|^2 (the bias is not penalised);
 * grad (p values) is overwritten. *ce gets the loss without the penalty. */
static double objective(const double *theta, const float *z, const int *y, int n, int k, int d, double l2,
                        double *grad, double *logit, double *ce, double *acc) {
    const size_t nw = (size_t)k * d, p = nw + (size_t)k;
    memset(grad, 0, p * sizeof *grad);
    *ce = cross_entropy(theta, z, y, n, k, d, grad, logit, acc);
    double pen = 0;
    for (size_t j = 0; j < nw; j++) {
        pen += theta[j] * theta[j];
        grad[j] += l2 * theta[j];
    }
    return *ce + 0.5 * l2 * pen;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double dotf(const float *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- the split and the scaling -------------------------------------------------------- */

static unsigned next_rand(unsigned *s) { /* xorshift32: the split only needs to be reproducible */
    unsigned x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Stratified: each class holds out round(frac * count) examples, at least one when it has
 * two or more and frac > 0, and always keeps one for training. is_val[i] gets 0/1. */
static void split(const int *labels, int n, int k, float frac, unsigned seed, char *is_val) {
    memset(is_val, 0, (size_t)n);
    if (frac <= 0) return;
    int *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return; /* no split: train on everything (reported as n_val = 0) */
    unsigned s = seed;
    for (int c = 0; c < k; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == c) idx[m++] = i;
        for (int i = m - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(next_rand(&s) % (unsigned)(i + 1));
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        int nv = (int)lround(frac * m);
        if (nv < 1 && m >= 2) nv = 1;
        if (nv > m - 1) nv = m - 1;
        for (int i = 0; i < nv; i++) is_val[idx[i]] = 1;
    }
    free(idx);
}

/* ---- training ---------------------------------------------------------------------------- */

resnet_status resnet_head_train(const float *features, const int *labels, int n, int dim, int n_classes,
                                const char *const *names, const resnet_train_options *opts, resnet_head **out,
                                resnet_train_report *report, resnet_error *err) {
    if (out) *out = NULL;
    if (!features || !labels || !names || !out) return rn_fail(err, RESNET_E_ARG, "resnet_head_train: NULL argument");
    resnet_train_options o = train_defaults;
    resnet_train_report rep = empty_report;
    resnet_status st0 = RESNET_OK;
    if (opts) st0 = rn_sized_read(&train_options_type, opts, &o, err);
    /* checked before the work, so that a bad report cannot waste a training run */
    if (report && st0 == RESNET_OK) st0 = rn_sized_write(&train_report_type, NULL, report, err);
    if (st0 != RESNET_OK) return st0;
    if (n_classes < 2 || n_classes > MAX_CLASSES)
        return rn_fail(err, RESNET_E_ARG, "a head needs 2 to %d classes, got %d", MAX_CLASSES, n_classes);
    if (dim < 1 || dim > MAX_DIM) return rn_fail(err, RESNET_E_ARG, "feature size %d is out of range", dim);
    if (n < 2) return rn_fail(err, RESNET_E_ARG, "training needs at least 2 examples, got %d", n);
    if (!(o.l2 >= 0 && o.l2 < 1e6f)) return rn_fail(err, RESNET_E_ARG, "the L2 penalty must be >= 0");
    if (!(o.val_fraction >= 0 && o.val_fraction <= 0.9f))
        return rn_fail(err, RESNET_E_ARG, "the validation share must be between 0 and 0.9");
    if (o.max_iters < 1 || o.patience < 1) return rn_fail(err, RESNET_E_ARG, "max_iters and patience must be >= 1");
    size_t nw, p, nz;
    if (!rn_mul_size((size_t)n_classes, (size_t)dim, &nw) || nw > (size_t)1 << 28 ||
        !rn_mul_size((size_t)n, (size_t)dim, &nz))
        return rn_fail(err, RESNET_E_ARG, "%d classes x %d features is too large", n_classes, dim);
    p = nw + (size_t)n_classes;
    int *count = calloc((size_t)n_classes, sizeof *count);
    if (!count) return rn_fail(err, RESNET_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes) {
            free(count);
            return rn_fail(err, RESNET_E_ARG, "label %d of example %d is not a class (0..%d)", labels[i], i,
                           n_classes - 1);
        }
        count[labels[i]]++;
    }
    for (int c = 0; c < n_classes; c++) {
        if (!names[c] || !rn_utf8_valid(names[c], strlen(names[c]))) {
            free(count);
            return rn_fail(err, RESNET_E_ARG, "the name of class %d is missing or not UTF-8", c);
        }
        if (count[c] == 0) {
            char nb[200];
            free(count);
            return rn_fail(err, RESNET_E_ARG, "class '%s' has no examples", rn_printable(names[c], nb, sizeof nb));
        }
    }
    free(count);
    for (size_t i = 0; i < nz; i++)
        if (!isfinite(features[i])) return rn_fail(err, RESNET_E_ARG, "feature %zu is not finite", i);

    const int k = n_classes, d = dim;
    resnet_status st = RESNET_E_NOMEM;
    char *is_val = malloc((size_t)n);
    float *x = malloc(nz * sizeof(float));          /* the (normalised) features */
    float *ztr = malloc(nz * sizeof(float)), *zva = NULL; /* standardised, split */
    int *ytr = malloc((size_t)n * sizeof(int)), *yva = malloc((size_t)n * sizeof(int));
    double *mean = calloc((size_t)d, sizeof(double)), *inv_sd = calloc((size_t)d, sizeof(double));
    double *theta = calloc(p, sizeof(double)), *best = calloc(p, sizeof(double));
    double *g = malloc(p * sizeof(double)), *gn = malloc(p * sizeof(double));
    double *dir = malloc(p * sizeof(double)), *trial = malloc(p * sizeof(double));
    double *logit = malloc((size_t)k * sizeof(double));
    float *hs = malloc((size_t)LBFGS_M * p * sizeof(float)), *hy = malloc((size_t)LBFGS_M * p * sizeof(float));
    double rho[LBFGS_M], alpha[LBFGS_M];
    resnet_head *h = head_alloc(k, d);
    if (!is_val || !x || !ztr || !ytr || !yva || !mean || !inv_sd || !theta || !best || !g || !gn || !dir ||
        !trial || !logit || !hs || !hy || !h) {
        rn_fail(err, st, "out of memory training a head (%d classes, %d examples)", k, n);
        goto done;
    }
    memcpy(x, features, nz * sizeof(float));
    if (o.l2_normalize)
        for (int i = 0; i < n; i++) rn_l2_normalize(x + (size_t)i * d, d);
    split(labels, n, k, o.val_fraction, o.seed, is_val);
    int ntr = 0, nva = 0;
    for (int i = 0; i < n; i++) nva += is_val[i];
    ntr = n - nva;
    zva = nva ? malloc((size_t)nva * d * sizeof(float)) : NULL;
    if (nva && !zva) {
        rn_fail(err, st, "out of memory training a head");
        goto done;
    }
    /* Standardise with the training share only (the validation share must stay unseen). The
     * deviation is floored at a hundredth of the mean deviation so that near-constant
     * dimensions (ReLU outputs that are almost always 0) are not blown up into noise. */
    for (int i = 0; i < n; i++)
        if (!is_val[i])
            for (int j = 0; j < d; j++) mean[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= ntr;
    double mean_var = 0;
    for (int i = 0; i < n; i++)
        if (!is_val[i])
            for (int j = 0; j < d; j++) {
                const double t = x[(size_t)i * d + j] - mean[j];
                inv_sd[j] += t * t;
            }
    for (int j = 0; j < d; j++) mean_var += (inv_sd[j] /= ntr);
    mean_var /= d;
    /* ...and everything by 1/sqrt(d), so that a standardised row has a length near 1 whatever
     * the dimension: logits then move by O(1) per unit of weight, and the L2 penalty and the
     * first step size mean the same for 2048 features as for 20. */
    for (int j = 0; j < d; j++) inv_sd[j] = 1.0 / sqrt((inv_sd[j] + 1e-4 * mean_var + 1e-30) * d);
    for (int i = 0, a = 0, b = 0; i < n; i++) {
        float *dst = is_val[i] ? zva + (size_t)b * d : ztr + (size_t)a * d;
        for (int j = 0; j < d; j++) dst[j] = (float)((x[(size_t)i * d + j] - mean[j]) * inv_sd[j]);
        if (is_val[i]) yva[b++] = labels[i];
        else ytr[a++] = labels[i];
    }

    /* L-BFGS from zero weights (every class equally likely). */
    const double l2 = o.l2;
    double ce, acc, f = objective(theta, ztr, ytr, ntr, k, d, l2, g, logit, &ce, &acc);
    rep.n_train = ntr;
    rep.n_val = nva;
    double vacc = 0, vloss = nva ? cross_entropy(theta, zva, yva, nva, k, d, NULL, logit, &vacc) : 0;
    double best_v = nva ? vloss : f;
    rep.train_loss = (float)ce;
    rep.train_acc = (float)acc;
    rep.val_loss = (float)vloss;
    rep.val_acc = (float)vacc;
    memcpy(best, theta, p * sizeof(double));
    int hist = 0, head_i = 0; /* pairs stored; the next slot to write */
    double gamma = 1.0;       /* scale of the initial inverse Hessian */
    int it;
    for (it = 1; it <= o.max_iters; it++) {
        /* two-loop recursion: dir = -H g */
        memcpy(dir, g, p * sizeof(double));
        for (int q = 0; q < hist; q++) {
            const int s = (head_i - 1 - q + LBFGS_M) % LBFGS_M;
            alpha[s] = rho[s] * dotf(hs + (size_t)s * p, dir, p);
            const float *ys = hy + (size_t)s * p;
            for (size_t j = 0; j < p; j++) dir[j] -= alpha[s] * ys[j];
        }
        for (size_t j = 0; j < p; j++) dir[j] *= gamma;
        for (int q = hist - 1; q >= 0; q--) {
            const int s = (head_i - 1 - q + LBFGS_M) % LBFGS_M;
            const double beta = rho[s] * dotf(hy + (size_t)s * p, dir, p);
            const float *ss = hs + (size_t)s * p;
            for (size_t j = 0; j < p; j++) dir[j] += ss[j] * (alpha[s] - beta);
        }
        for (size_t j = 0; j < p; j++) dir[j] = -dir[j];
        double gd = dot(g, dir, p);
        if (!(gd < 0)) { /* not a descent direction (rounding): restart from steepest descent */
            hist = 0;
            for (size_t j = 0; j < p; j++) dir[j] = -g[j];
            gd = -dot(g, g, p);
        }
        double gmax = 0;
        for (size_t j = 0; j < p; j++) gmax = fmax(gmax, fabs(g[j]));
        if (gd > -1e-14 || gmax < 1e-6) break; /* the gradient vanished: converged */
        /* backtracking line search (Armijo); the first step is scaled to a unit move */
        double t = hist ? 1.0 : fmin(1.0, 1.0 / sqrt(-gd)), fn = f, ce_n = ce, acc_n = acc;
        int accepted = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t j = 0; j < p; j++) trial[j] = theta[j] + t * dir[j];
            fn = objective(trial, ztr, ytr, ntr, k, d, l2, gn, logit, &ce_n, &acc_n);
            if (isfinite(fn) && fn <= f + 1e-4 * t * gd) {
                accepted = 1;
                break;
            }
            t *= 0.5;
        }
        if (!accepted) break; /* no decrease left at float precision: converged */
        /* the new pair s = trial - theta, y = gn - g; kept only with positive curvature */
        float *ss = hs + (size_t)head_i * p, *ys = hy + (size_t)head_i * p;
        double sy = 0, yy = 0;
        for (size_t j = 0; j < p; j++) {
            const double sj = trial[j] - theta[j], yj = gn[j] - g[j];
            ss[j] = (float)sj;
            ys[j] = (float)yj;
            sy += sj * yj;
            yy += yj * yj;
        }
        if (sy > 1e-12 * yy && yy > 0) {
            rho[head_i] = 1.0 / sy;
            gamma = sy / yy;
            head_i = (head_i + 1) % LBFGS_M;
            if (hist < LBFGS_M) hist++;
        }
        double *tmp = theta;
        theta = trial;
        trial = tmp;
        tmp = g;
        g = gn;
        gn = tmp;
        f = fn;
        ce = ce_n;
        acc = acc_n;
        if (nva) vloss = cross_entropy(theta, zva, yva, nva, k, d, NULL, logit, &vacc);
        if (o.progress) o.progress(o.progress_ctx, it, (float)ce, (float)acc, (float)vloss, (float)vacc);
        const double watch = nva ? vloss : f;
        if (watch < best_v - 1e-9 * fabs(best_v) || !nva) {
            best_v = watch;
            rep.best_iter = it;
            rep.train_loss = (float)ce;
            rep.train_acc = (float)acc;
            rep.val_loss = (float)vloss;
            rep.val_acc = (float)vacc;
            memcpy(best, theta, p * sizeof(double));
        } else if (it - rep.best_iter >= o.patience) {
            break;
        }
    }
    rep.iters = it > o.max_iters ? o.max_iters : it;

    /* Fold the standardisation into the weights: W (x - mean) * inv_sd + b
     * = (W * inv_sd) x + (b - sum_j W_j inv_sd_j mean_j). */
    for (int c = 0; c < k; c++) {
        double b = best[nw + (size_t)c];
        for (int j = 0; j < d; j++) {
            const double w = best[(size_t)c * d + j] * inv_sd[j];
            h->weight[(size_t)c * d + j] = (float)w;
            b -= w * mean[j];
        }
        h->bias[c] = (float)b;
    }
    h->l2_normalize = o.l2_normalize != 0;
    h->report = rep;
    h->backbone = dupstr(o.backbone ? o.backbone : "");
    int names_ok = h->backbone != NULL;
    for (int c = 0; names_ok && c < k; c++) names_ok = (h->names[c] = dupstr(names[c])) != NULL;
    if (!names_ok) {
        rn_fail(err, st, "out of memory");
        goto done;
    }
    if (report) rn_sized_write(&train_report_type, &rep, report, err);
    *out = h;
    h = NULL;
    st = RESNET_OK;
done:
    resnet_head_free(h);
    free(is_val);
    free(x);
    free(ztr);
    free(zva);
    free(ytr);
    free(yva);
    free(mean);
    free(inv_sd);
    free(theta);
    free(best);
    free(g);
    free(gn);
    free(dir);
    free(trial);
    free(logit);
    free(hs);
    free(hy);
    return st;
}

/* ---- using a head ------------------------------------------------------------------------ */

resnet_status rn_head_logits(const resnet_head *h, const float *features, int n, float *logits, resnet_error *err) {
    if (!h || !features || !logits) return rn_fail(err, RESNET_E_ARG, "resnet_head_predict: NULL argument");
    if (n < 0) return rn_fail(err, RESNET_E_ARG, "resnet_head_predict: n = %d", n);
    float *x = malloc((size_t)h->dim * sizeof(float));
    if (!x) return rn_fail(err, RESNET_E_NOMEM, "resnet_head_predict: out of memory");
    for (int i = 0; i < n; i++) {
        const float *fi = features + (size_t)i * h->dim;
        /* the caller's features, named as such: a NaN here made a NaN output, which was blamed on
         * the head's weights below (RESNET_E_WEIGHTS); training refuses them the same way */
        for (int j = 0; j < h->dim; j++)
            if (!isfinite(fi[j])) {
                free(x);
                return rn_fail(err, RESNET_E_ARG, "resnet_head_predict: feature %d of vector %d is not finite", j, i);
            }
        memcpy(x, fi, (size_t)h->dim * sizeof(float));
        if (h->l2_normalize) rn_l2_normalize(x, h->dim);
        float *pi = logits + (size_t)i * h->n_classes;
        for (int c = 0; c < h->n_classes; c++) {
            const float *w = h->weight + (size_t)c * h->dim;
            double s = h->bias[c];
            for (int j = 0; j < h->dim; j++) s += (double)w[j] * x[j];
            pi[c] = (float)s;
        }
        if (!rn_all_finite(pi, (size_t)h->n_classes)) {
            free(x);
            return rn_fail(err, RESNET_E_WEIGHTS, "the head's output is not finite (inf or NaN): its weights overflow float on this photo");
        }
    }
    free(x);
    return RESNET_OK;
}

resnet_status resnet_head_predict(const resnet_head *h, const float *features, int n, float *probs,
                                  resnet_error *err) {
    const resnet_status st = rn_head_logits(h, features, n, probs, err);
    if (st != RESNET_OK) return st;
    for (int i = 0; i < n; i++) rn_softmax(probs + (size_t)i * h->n_classes, h->n_classes, probs + (size_t)i * h->n_classes);
    return RESNET_OK;
}

/* ---- files --------------------------------------------------------------------------------- */

/* s as a JSON string literal appended at *pos of buf (cap bytes, enough: 6 x strlen + 3). */
static void json_quote(const char *s, char *buf, size_t *pos) {
    buf[(*pos)++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)*p;
        } else if (*p < 0x20) {
            *pos += (size_t)sprintf(buf + *pos, "\\u%04x", *p);
        } else {
            buf[(*pos)++] = (char)*p;
        }
    }
    buf[(*pos)++] = '"';
}

/* An accuracy (0..1) as "0.9531": "%.4f" would follow the host program's locale and write
 * "0,9531" into the file under a decimal comma. */
static void fraction_str(float v, char *buf, size_t n) {
    const long t = isfinite(v) && v > 0 ? lround(fmin(v, 1.0) * 10000) : 0;
    snprintf(buf, n, "%ld.%04ld", t / 10000, t % 10000);
}

resnet_status resnet_head_save(const resnet_head *h, const char *path, resnet_error *err) {
    if (!h || !path) return rn_fail(err, RESNET_E_ARG, "resnet_head_save: NULL argument");
    size_t cap = 3;
    for (int c = 0; c < h->n_classes; c++) cap += 6 * strlen(h->names[c]) + 4;
    char *classes = malloc(cap);
    if (!classes) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    size_t pos = 0;
    classes[pos++] = '[';
    for (int c = 0; c < h->n_classes; c++) {
        if (c) {
            classes[pos++] = ',';
            classes[pos++] = ' ';
        }
        json_quote(h->names[c], classes, &pos);
    }
    classes[pos++] = ']';
    classes[pos] = '\0';
    char dim[16], ntr[16], nva[16], tacc[32], vacc[32], iters[32];
    snprintf(dim, sizeof dim, "%d", h->dim);
    snprintf(ntr, sizeof ntr, "%d", h->report.n_train);
    snprintf(nva, sizeof nva, "%d", h->report.n_val);
    fraction_str(h->report.train_acc, tacc, sizeof tacc);
    fraction_str(h->report.val_acc, vacc, sizeof vacc);
    snprintf(iters, sizeof iters, "%d", h->report.best_iter);
    const char *keys[] = {"format", "version", "classes", "feature_normalization", "feature_dim", "backbone",
                          "n_train", "n_val", "train_accuracy", "val_accuracy", "best_iteration"};
    const char *vals[] = {RN_HEAD_FORMAT, "1", classes, h->l2_normalize ? "l2" : "none", dim, resnet_head_backbone(h),
                          ntr, nva, tacc, vacc, iters};
    rn_st_entry e[2] = {{"weight", 2, {h->n_classes, h->dim}, h->weight}, {"bias", 1, {h->n_classes}, h->bias}};
    resnet_status st = rn_st_write(path, e, 2, keys, vals, sizeof keys / sizeof *keys, err);
    free(classes);
    return st;
}

resnet_status resnet_head_load(const char *path, resnet_head **out, resnet_error *err) {
    if (out) *out = NULL;
    if (!path || !out) return rn_fail(err, RESNET_E_ARG, "resnet_head_load: NULL argument");
    rn_safetensors *st;
    resnet_status s = rn_weights_open(path, &st, err);
    if (s != RESNET_OK) return s;
    char pb[400];
    const char *p = rn_printable(path, pb, sizeof pb);
    const char *fmt = rn_st_metadata(st, "format"), *norm = rn_st_metadata(st, "feature_normalization");
    const char *classes = rn_st_metadata(st, "classes"), *backbone = rn_st_metadata(st, "backbone");
    const rn_tensor *w = rn_st_find(st, "weight"), *b = rn_st_find(st, "bias");
    resnet_head *h = NULL;
    rn_json_doc *doc = NULL;
    s = RESNET_E_WEIGHTS;
    if (!fmt || strcmp(fmt, RN_HEAD_FORMAT) != 0) {
        rn_fail(err, s, "%s: not a classifier head (no \"format\": \"%s\" in its metadata)", p, RN_HEAD_FORMAT);
        goto fail;
    }
    /* the version written is "1"; a later one may mean its tensors otherwise, so it is refused
     * rather than read as this one (a head without the key, made by hand, is read as 1) */
    const char *version = rn_st_metadata(st, "version");
    if (version && strcmp(version, "1") != 0) {
        char vb[40];
        rn_fail(err, s, "%s: head format version '%s': this build reads version 1", p, rn_printable(version, vb, sizeof vb));
        goto fail;
    }
    if (!w || !b || w->ndim != 2 || b->ndim != 1 || w->shape[0] != b->shape[0] || w->shape[0] < 1 ||
        w->shape[0] > MAX_CLASSES || w->shape[1] < 1 || w->shape[1] > MAX_DIM ||
        w->shape[0] * w->shape[1] > ((int64_t)1 << 28)) {
        rn_fail(err, s, "%s: needs tensors weight [classes, dim] and bias [classes] of sensible sizes", p);
        goto fail;
    }
    /* as the network's loader: a tensor the head does not use is refused, not ignored (a
     * file holding more than nn.Linear's two is not a head this code knows how to run) */
    for (size_t i = 0; i < rn_st_count(st); i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (t != w && t != b) {
            char nb[96];
            rn_fail(err, s, "%s: tensor '%s' is not used by a head (it holds weight and bias only)", p,
                    rn_printable(t->name, nb, sizeof nb));
            goto fail;
        }
    }
    if (!norm || (strcmp(norm, "l2") != 0 && strcmp(norm, "none") != 0)) {
        rn_fail(err, s, "%s: feature_normalization must be \"l2\" or \"none\"", p);
        goto fail;
    }
    const int k = (int)w->shape[0], d = (int)w->shape[1];
    char msg[160];
    if (!classes || rn_json_parse(classes, strlen(classes), NULL, &doc, msg, sizeof msg) != 0 ||
        !rn_json_is(rn_json_root(doc), RN_JSON_ARRAY) || rn_json_count(rn_json_root(doc)) != (size_t)k) {
        rn_fail(err, s, "%s: \"classes\" must be a JSON array of %d names", p, k);
        goto fail;
    }
    if (!(h = head_alloc(k, d))) {
        s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", p);
        goto fail;
    }
    for (int c = 0; c < k; c++) {
        const char *name = rn_json_string(rn_json_at(rn_json_root(doc), (size_t)c), NULL);
        if (!name) {
            rn_fail(err, s, "%s: class %d's name is not a string", p, c);
            goto fail;
        }
        if (!(h->names[c] = dupstr(name))) {
            s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", p);
            goto fail;
        }
    }
    if ((s = rn_st_read_f32(st, w, h->weight, err)) != RESNET_OK || (s = rn_st_read_f32(st, b, h->bias, err)) != RESNET_OK)
        goto fail;
    s = RESNET_E_WEIGHTS;
    for (size_t i = 0; i < (size_t)k * d; i++)
        if (!isfinite(h->weight[i])) {
            rn_fail(err, s, "%s: weight has a value that is not finite", p);
            goto fail;
        }
    for (int i = 0; i < k; i++)
        if (!isfinite(h->bias[i])) {
            rn_fail(err, s, "%s: bias has a value that is not finite", p);
            goto fail;
        }
    h->l2_normalize = strcmp(norm, "l2") == 0;
    if (!(h->backbone = dupstr(backbone ? backbone : ""))) {
        s = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", p);
        goto fail;
    }
    rn_json_free(doc);
    rn_st_close(st);
    *out = h;
    return RESNET_OK;
fail:
    rn_json_free(doc);
    resnet_head_free(h);
    rn_st_close(st);
    return s;
}
