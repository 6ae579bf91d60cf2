#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
/// Decodes a JPEG file to 8-bit interleaved RGB (greyscale and CMYK are converted). Warnings such as
/// "Premature end of JPEG file" are treated as errors so a truncated file never yields a silently grey image.
/// Returns 0 on success; otherwise writes a message to err. *out is malloc'ed; release with cjpeg_free.
int cjpeg_decode_file(const char *path, unsigned char **out, int *width, int *height, char *err, size_t errlen);
/// Decodes a JPEG held in memory, same contract as cjpeg_decode_file.
int cjpeg_decode_memory(const unsigned char *data, size_t size, unsigned char **out, int *width, int *height,
                        char *err, size_t errlen);
/// Encodes interleaved RGB (channels 3) or grey (channels 1) to a JPEG file.
int cjpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      int quality, char *err, size_t errlen);
void cjpeg_free(void *p);
#endif
