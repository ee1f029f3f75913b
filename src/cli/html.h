/* html.h - the pieces of the HTML reports (html.c): safe text, thumbnails, embedded PNGs. */
#ifndef RN_CLI_HTML_H
#define RN_CLI_HTML_H

#include <stdio.h>
#include "resnet.h"

/* s as HTML text (also safe inside a quoted attribute): markup characters as entities,
 * control characters and bytes that are not UTF-8 as \xHH, as the tool prints names. */
void cli_html_text(FILE *f, const char *s);
/* img shrunk (box average) so that its longer side is at most 128 pixels, into out (a new
 * image: resnet_image_free); 0, or -1 out of memory. */
int cli_html_thumbnail(const resnet_image *img, resnet_image *out);
/* An <img> holding img as an embedded PNG (a placeholder when img is empty or cannot be
 * encoded); alt is its text. */
void cli_html_img(FILE *f, const resnet_image *img, const char *alt);

#endif
