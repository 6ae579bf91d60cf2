#include "cpng.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct errbuf { char *err; size_t len; };

static void on_error(png_structp png, png_const_charp msg) {
    struct errbuf *e = (struct errbuf *)png_get_error_ptr(png);
    snprintf(e->err, e->len, "%s", msg);
    png_longjmp(png, 1);
}
static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int cpng_read_fd(int fd, int mode, size_t max_pixels, unsigned max_side, unsigned char **out, int *width, int *height,
                 int *source_kind, char *err, size_t errlen) {
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); snprintf(err, errlen, "cannot open for reading"); return 1; }
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) { fclose(f); snprintf(err, errlen, "not a PNG file"); return 1; }
    struct errbuf eb = { err, errlen };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &eb, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) { png_destroy_read_struct(&png, &info, NULL); fclose(f); snprintf(err, errlen, "out of memory"); return 1; }
    // volatile: modified between setjmp and a possible longjmp.
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    volatile int rc = 1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels); free(raw); free(rows); fclose(f);
        return rc;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    size_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    *source_kind = color;
    // Checked on the header, before anything is decoded or allocated.
    if (w > max_side || h > max_side || w * h > max_pixels) {
        snprintf(err, errlen, "image is %zux%zu; images may have at most %zu pixels and %u per side", w, h, max_pixels,
                 max_side);
        rc = 2; png_longjmp(png, 1);
    }
    int wide = 0;  // label samples stay 16-bit and are checked below
    if (mode == 0) {
        if (color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_RGB_ALPHA) {
            snprintf(err, errlen, "label PNG is colour (RGB%s), expected a single-channel index or palette PNG",
                     color == PNG_COLOR_TYPE_RGB_ALPHA ? "A" : "");
            rc = 2; png_longjmp(png, 1);
        }
        // Grey and palette samples below 8 bits become one byte each, unscaled (the stored value is the index).
        if (depth < 8) png_set_packing(png);
        if (color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_strip_alpha(png);  // the grey channel holds the indices
        wide = depth == 16;
    } else {
        if (depth == 16) png_set_strip_16(png);
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t channels = mode == 0 ? 1 : 3;
    size_t sample_bytes = wide ? 2 : 1;
    if (rowbytes != w * channels * sample_bytes) {
        snprintf(err, errlen, "unexpected PNG layout (%zu bytes per row for width %zu)", rowbytes, w);
        png_longjmp(png, 1);
    }
    pixels = malloc(w * h * channels > 0 ? w * h * channels : 1);
    raw = wide ? malloc(rowbytes * h > 0 ? rowbytes * h : 1) : NULL;
    rows = malloc((h > 0 ? h : 1) * sizeof(png_bytep));
    if (!pixels || !rows || (wide && !raw)) { snprintf(err, errlen, "out of memory for a %zux%zu image", w, h); png_longjmp(png, 1); }
    unsigned char *dst = wide ? raw : pixels;
    for (size_t y = 0; y < h; y++) rows[y] = dst + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (wide) {
        // 16-bit labels hold the class index itself (big-endian); anything above 255 cannot be a class or void.
        for (size_t i = 0; i < w * h; i++) {
            unsigned v = ((unsigned)raw[2 * i] << 8) | raw[2 * i + 1];
            if (v > 255) {
                snprintf(err, errlen, "label value %u at (x %zu, y %zu) of a 16-bit label (stored labels are 0–255)",
                         v, i % w, i / w);
                rc = 2; png_longjmp(png, 1);
            }
            pixels[i] = (unsigned char)v;
        }
        free(raw); raw = NULL;
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    fclose(f);
    *out = pixels;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int cpng_write_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                    const unsigned char *palette, int palette_len, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "cannot open for writing"); return 1; }
    struct errbuf eb = { err, errlen };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &eb, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) { fclose(f); snprintf(err, errlen, "out of memory"); return 1; }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    int color = channels == 4 ? PNG_COLOR_TYPE_RGBA : channels == 3 ? PNG_COLOR_TYPE_RGB
              : (palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[256];
    if (palette && channels == 1) {
        int n = palette_len > 256 ? 256 : palette_len;
        for (int i = 0; i < n; i++) { pal[i].red = palette[3*i]; pal[i].green = palette[3*i+1]; pal[i].blue = palette[3*i+2]; }
        png_set_PLTE(png, info, pal, n);
    }
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) { snprintf(err, errlen, "write error (disk full?)"); return 1; }
    return 0;
}

void cpng_free(void *p) { free(p); }
