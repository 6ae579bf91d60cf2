#include "cjpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

struct error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void on_error(j_common_ptr cinfo) {
    struct error_mgr *e = (struct error_mgr *)cinfo->err;
    longjmp(e->jump, 1);
}

// Warnings (level -1) become fatal: a truncated stream must not decode into a partly grey image.
static void on_message(j_common_ptr cinfo, int level) {
    if (level < 0) on_error(cinfo);
}

// Largest image accepted (pixels): a corrupt or hostile header must not make us allocate gigabytes.
#define CJPEG_MAX_PIXELS ((size_t)1 << 28)

// CMYK → RGB as OpenCV and ImageMagick do without a colour profile: R = (1 − C)(1 − K), … Files with an Adobe
// marker (Photoshop, Pillow) store the channels inverted, i.e. the bytes already are 1 − C and 1 − K.
static void cmyk_to_rgb(const unsigned char *src, unsigned char *dst, size_t n, int inverted) {
    for (size_t i = 0; i < n; i++) {
        unsigned c = src[4 * i], m = src[4 * i + 1], y = src[4 * i + 2], k = src[4 * i + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        dst[3 * i] = (unsigned char)((c * k + 127) / 255);
        dst[3 * i + 1] = (unsigned char)((m * k + 127) / 255);
        dst[3 * i + 2] = (unsigned char)((y * k + 127) / 255);
    }
}

static int decode(struct jpeg_decompress_struct *cinfo, struct error_mgr *jerr, unsigned char **out, int *width,
                  int *height, char *err, size_t errlen) {
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row4 = NULL;
    if (setjmp(jerr->jump)) {
        char msg[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)((j_common_ptr)cinfo, msg);
        snprintf(err, errlen, "%s", msg);
        jpeg_destroy_decompress(cinfo);
        free(pixels); free(row4);
        return 1;
    }
    jpeg_read_header(cinfo, TRUE);
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    if (cmyk) {
        cinfo->out_color_space = JCS_CMYK;  // libjpeg converts YCCK to CMYK; CMYK to RGB is ours
    } else if (cinfo->num_components == 1 || cinfo->num_components == 3) {
        cinfo->out_color_space = JCS_RGB;
    } else {
        snprintf(err, errlen, "unsupported JPEG with %d colour components (expected grey, RGB/YCbCr or CMYK)",
                 cinfo->num_components);
        jpeg_destroy_decompress(cinfo);
        return 2;
    }
    if ((size_t)cinfo->image_width * cinfo->image_height > CJPEG_MAX_PIXELS) {
        snprintf(err, errlen, "image is %ux%u, more than the %zu pixels supported", cinfo->image_width,
                 cinfo->image_height, (size_t)CJPEG_MAX_PIXELS);
        jpeg_destroy_decompress(cinfo);
        return 2;
    }
    jpeg_start_decompress(cinfo);
    size_t w = cinfo->output_width, h = cinfo->output_height;
    pixels = malloc(w * h * 3 > 0 ? w * h * 3 : 1);
    if (cmyk) row4 = malloc(w * 4 > 0 ? w * 4 : 1);
    if (!pixels || (cmyk && !row4)) {
        snprintf(err, errlen, "out of memory for %zux%zu image", w, h);
        jpeg_destroy_decompress(cinfo); free(pixels); free(row4);
        return 1;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        size_t y = cinfo->output_scanline;
        JSAMPROW row = cmyk ? row4 : pixels + y * w * 3;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            snprintf(err, errlen, "decoder stopped at row %zu of %zu", y, h);
            jpeg_destroy_decompress(cinfo); free(pixels); free(row4);
            return 1;
        }
        if (cmyk) cmyk_to_rgb(row4, pixels + y * w * 3, w, cinfo->saw_Adobe_marker);
    }
    jpeg_finish_decompress(cinfo);
    jpeg_destroy_decompress(cinfo);
    free(row4);
    *out = pixels;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int cjpeg_decode_memory(const unsigned char *data, size_t size, unsigned char **out, int *width, int *height,
                        char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error;
    jerr.pub.emit_message = on_message;
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    return decode(&cinfo, &jerr, out, width, height, err, errlen);
}

int cjpeg_decode_file(const char *path, unsigned char **out, int *width, int *height, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot open for reading"); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0) { fclose(f); snprintf(err, errlen, "empty file"); return 1; }
    unsigned char *data = malloc((size_t)size);
    if (!data) { fclose(f); snprintf(err, errlen, "out of memory"); return 1; }
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) { free(data); snprintf(err, errlen, "read error"); return 1; }
    int rc = cjpeg_decode_memory(data, (size_t)size, out, width, height, err, errlen);
    free(data);
    return rc;
}

int cjpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      int quality, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct error_mgr jerr;
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "cannot open for writing"); return 1; }
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error;
    if (setjmp(jerr.jump)) {
        char msg[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, msg);
        snprintf(err, errlen, "%s", msg);
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(f) != 0) { snprintf(err, errlen, "write error (disk full?)"); return 1; }
    return 0;
}

void cjpeg_free(void *p) { free(p); }
