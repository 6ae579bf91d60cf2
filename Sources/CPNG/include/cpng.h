#ifndef CPNG_H
#define CPNG_H
#include <stddef.h>
/// Reads a PNG file to 8-bit pixels.
/// mode 0 (indices): one channel of stored sample values: palette images give their raw palette indices (never
///   expanded, tRNS ignored), grey images their grey value (1/2/4-bit samples unscaled, 16-bit samples as their
///   value, which must be ≤ 255), grey+alpha images their grey channel. Colour images are refused.
/// mode 1 (rgb): three channels; palette expanded, grey replicated (1/2/4-bit scaled to 0–255), alpha and tRNS
///   dropped, 16-bit reduced to 8.
/// Images with more than max_pixels pixels or a side above max_side are refused from their header.
/// Returns 0 on success; 1 when the file is unreadable (truncated, corrupt: err has libpng's reason); 2 when it is a
/// valid PNG whose content is not accepted (err is the complete reason). *out is malloc'ed; release with cpng_free.
/// *source_kind: 0 grey, 2 rgb, 3 palette, 4 grey+alpha, 6 rgba (PNG colour types).
/// Reads the open file `fd` and closes it.
int cpng_read_fd(int fd, int mode, size_t max_pixels, unsigned max_side, unsigned char **out, int *width, int *height,
                 int *source_kind, char *err, size_t errlen);
/// Writes 8-bit pixels: channels 1 (grey, or palette indices when palette != NULL with palette_len entries of RGB),
/// 3 (RGB) or 4 (RGBA).
int cpng_write_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                    const unsigned char *palette, int palette_len, char *err, size_t errlen);
void cpng_free(void *p);
#endif
