#include "cjpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <unistd.h>

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

static unsigned read16(const unsigned char *p, int big) { return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0]; }
static unsigned long read32(const unsigned char *p, int big) {
    return big ? (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3]
               : (unsigned long)p[3] << 24 | (unsigned long)p[2] << 16 | (unsigned long)p[1] << 8 | p[0];
}

// The Orientation tag (0x0112) of IFD0 in an APP1 "Exif" segment; 1 (as stored) when absent or not 1…8, as cv2
// treats it. Every offset is checked against the segment: the marker is untrusted input.
static int exif_orientation(struct jpeg_decompress_struct *cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 14 || memcmp(m->data, "Exif\0\0", 6) != 0) continue;
        const unsigned char *t = m->data + 6;
        size_t n = m->data_length - 6;
        int big;
        if (t[0] == 'M' && t[1] == 'M') big = 1; else if (t[0] == 'I' && t[1] == 'I') big = 0; else return 1;
        if (read16(t + 2, big) != 42) return 1;
        unsigned long ifd = read32(t + 4, big);
        if (ifd > n - 2) return 1;
        unsigned count = read16(t + ifd, big);
        for (unsigned i = 0; i < count; i++) {
            size_t e = ifd + 2 + (size_t)i * 12;
            if (e + 12 > n) return 1;
            // SHORT, count 1: the value sits in the first two bytes of the value field.
            if (read16(t + e, big) == 0x0112 && read16(t + e + 2, big) == 3 && read32(t + e + 4, big) == 1) {
                unsigned v = read16(t + e + 8, big);
                return v >= 1 && v <= 8 ? (int)v : 1;
            }
        }
        return 1;
    }
    return 1;
}

// Applies an EXIF orientation as cv2.imread does (loadsave.cpp ExifTransform): 2 flip left-right, 3 rotate 180,
// 4 flip up-down, 5 transpose, 6 transpose + flip left-right (rotate 90° clockwise), 7 transpose + rotate 180,
// 8 transpose + flip up-down. Output (y, x) reads source (sy, sx) of the w×h source; 5–8 swap width and height.
static unsigned char *orient(const unsigned char *src, size_t w, size_t h, int o, size_t *ow, size_t *oh) {
    int swap = o >= 5;
    *ow = swap ? h : w; *oh = swap ? w : h;
    unsigned char *dst = malloc(w * h * 3 > 0 ? w * h * 3 : 1);
    if (!dst) return NULL;
    for (size_t y = 0; y < *oh; y++) {
        for (size_t x = 0; x < *ow; x++) {
            size_t sy, sx;
            switch (o) {
            case 2: sy = y; sx = w - 1 - x; break;
            case 3: sy = h - 1 - y; sx = w - 1 - x; break;
            case 4: sy = h - 1 - y; sx = x; break;
            case 5: sy = x; sx = y; break;
            case 6: sy = h - 1 - x; sx = y; break;
            case 7: sy = h - 1 - x; sx = w - 1 - y; break;
            case 8: sy = x; sx = w - 1 - y; break;
            default: sy = y; sx = x; break;
            }
            memcpy(dst + (y * *ow + x) * 3, src + (sy * w + sx) * 3, 3);
        }
    }
    return dst;
}

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

static int decode(struct jpeg_decompress_struct *cinfo, struct error_mgr *jerr, const struct cjpeg_limits *limits,
                  unsigned char **out, int *width, int *height, int *orientation, char *err, size_t errlen) {
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
    // The first 4 KB of each APP1 segment hold the Exif IFD0 (at offset 8 in practice); saving no more bounds the
    // memory a file full of APP1 segments can claim to a small fraction of its size.
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 4096);
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
    // Checked on the header, before anything is decoded or allocated.
    if (cinfo->image_width > limits->max_side || cinfo->image_height > limits->max_side
        || (size_t)cinfo->image_width * cinfo->image_height > limits->max_pixels) {
        snprintf(err, errlen, "image is %ux%u; images may have at most %zu pixels and %u per side",
                 cinfo->image_width, cinfo->image_height, limits->max_pixels, limits->max_side);
        jpeg_destroy_decompress(cinfo);
        return 2;
    }
    int o = limits->apply_orientation ? exif_orientation(cinfo) : 1;
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
    if (o != 1) {
        size_t ow, oh;
        unsigned char *turned = orient(pixels, w, h, o, &ow, &oh);
        free(pixels);
        if (!turned) { snprintf(err, errlen, "out of memory for %zux%zu image", w, h); return 1; }
        pixels = turned; w = ow; h = oh;
    }
    *out = pixels;
    *width = (int)w;
    *height = (int)h;
    *orientation = o;
    return 0;
}

// A decompressor whose errors (and warnings, see on_message) jump to jerr->jump, which decode sets.
static void create_decompress(struct jpeg_decompress_struct *cinfo, struct error_mgr *jerr) {
    cinfo->err = jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = on_error;
    jerr->pub.emit_message = on_message;
    jpeg_create_decompress(cinfo);
}

int cjpeg_decode_memory(const unsigned char *data, size_t size, const struct cjpeg_limits *limits, unsigned char **out,
                        int *width, int *height, int *orientation, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct error_mgr jerr;
    create_decompress(&cinfo, &jerr);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    return decode(&cinfo, &jerr, limits, out, width, height, orientation, err, errlen);
}

int cjpeg_decode_fd(int fd, const struct cjpeg_limits *limits, unsigned char **out, int *width, int *height,
                    int *orientation, char *err, size_t errlen) {
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); snprintf(err, errlen, "cannot open for reading"); return 1; }
    // Streamed from the file: only the header is read before the size is checked.
    struct jpeg_decompress_struct cinfo;
    struct error_mgr jerr;
    create_decompress(&cinfo, &jerr);
    jpeg_stdio_src(&cinfo, f);
    int rc = decode(&cinfo, &jerr, limits, out, width, height, orientation, err, errlen);
    fclose(f);
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
