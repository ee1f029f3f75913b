/* quantize.h - post-training static quantization of an fp32 model (internal; the
 * `resnet quantize` command drives it): statistics of every activation an int8 layer reads,
 * gathered through the session's observer while the fp32 network runs on calibration photos,
 * then the int8 file (layout in weights.c). */
#ifndef RN_QUANTIZE_H
#define RN_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>
#include "resnet.h"

typedef enum rn_calib_method {
    RN_CALIB_MINMAX = 0,     /* the whole range seen */
    RN_CALIB_PERCENTILE = 1, /* clip at the 99.99th percentile (each side for a signed tensor) */
    RN_CALIB_MSE = 2         /* the clip that minimises the expected squared error */
} rn_calib_method;

const char *rn_calib_method_name(rn_calib_method m);
int rn_calib_method_parse(const char *s); /* -1 if unknown */

typedef struct rn_calib rn_calib;

/* Statistics for the fp32 model m (kept by pointer: free the calibration first). */
resnet_status rn_calib_create(const resnet_model *m, rn_calib **out, resnet_error *err);
void rn_calib_free(rn_calib *c);
/* Makes s feed c: every forward pass of s from now on adds to the statistics. */
void rn_calib_attach(rn_calib *c, resnet_session *s);

/* Writes the int8 file out_path from the fp32 file fp32_path (the one m was loaded from),
 * the statistics and the method; `photos` is recorded in the metadata. Atomic (temporary
 * name, then rename) and deterministic: the same inputs give the same bytes. */
resnet_status rn_quantize_write(const rn_calib *c, const char *fp32_path, const char *out_path,
                                rn_calib_method method, int photos, resnet_error *err);

#endif
