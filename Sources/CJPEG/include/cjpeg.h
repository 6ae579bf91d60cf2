#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
/// What a decode accepts, checked on the header before anything is allocated, and whether the EXIF orientation is
/// applied.
struct cjpeg_limits {
    size_t max_pixels;
    unsigned max_side;
    /// 1: apply the Orientation tag of an APP1 Exif segment as cv2.imread does (IMREAD_COLOR); 0: pixels as stored.
    int apply_orientation;
};
/// Decodes a JPEG to 8-bit interleaved RGB (greyscale replicated; CMYK and YCCK converted with R = (1 − C)(1 − K),
/// Adobe-inverted channels recognised). Warnings such as "Premature end of JPEG file" are treated as errors so a
/// truncated file never yields a silently grey image. Images beyond `limits` are refused from their header.
/// *orientation is the EXIF orientation applied (1 = none); width and height are those after it.
/// Returns 0 on success; 1 when the stream is truncated or corrupt (err has libjpeg's reason); 2 when it is a valid
/// JPEG that is not supported (err is the complete reason). *out is malloc'ed; release with cjpeg_free.
/// cjpeg_decode_fd reads the open file `fd` as a stream and closes it.
int cjpeg_decode_fd(int fd, const struct cjpeg_limits *limits, unsigned char **out, int *width, int *height,
                    int *orientation, char *err, size_t errlen);
int cjpeg_decode_memory(const unsigned char *data, size_t size, const struct cjpeg_limits *limits, unsigned char **out,
                        int *width, int *height, int *orientation, char *err, size_t errlen);
/// Encodes interleaved RGB (channels 3) or grey (channels 1) to a JPEG file.
int cjpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      int quality, char *err, size_t errlen);
void cjpeg_free(void *p);
#endif
