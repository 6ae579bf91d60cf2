#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
/// Decodes a JPEG file to 8-bit interleaved RGB (greyscale replicated; CMYK and YCCK converted with
/// R = (1 − C)(1 − K), Adobe-inverted channels recognised). Warnings such as "Premature end of JPEG file" are treated
/// as errors so a truncated file never yields a silently grey image. Images above 2^28 pixels are refused.
/// Returns 0 on success; 1 when the stream is truncated or corrupt (err has libjpeg's reason); 2 when it is a valid
/// JPEG that is not supported (err is the complete reason). *out is malloc'ed; release with cjpeg_free.
int cjpeg_decode_file(const char *path, unsigned char **out, int *width, int *height, char *err, size_t errlen);
/// Decodes a JPEG held in memory, same contract as cjpeg_decode_file.
int cjpeg_decode_memory(const unsigned char *data, size_t size, unsigned char **out, int *width, int *height,
                        char *err, size_t errlen);
/// Encodes interleaved RGB (channels 3) or grey (channels 1) to a JPEG file.
int cjpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                      int quality, char *err, size_t errlen);
void cjpeg_free(void *p);
#endif
