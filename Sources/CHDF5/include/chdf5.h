#ifndef CHDF5_H
#define CHDF5_H
// HDF5 (Debian's serial build). The native type ids are macros that call H5open(); Swift cannot import them,
// so they are exposed as functions here.
#include <hdf5/serial/hdf5.h>

hid_t chdf5_native_float(void);
hid_t chdf5_native_double(void);
hid_t chdf5_native_uint8(void);
hid_t chdf5_native_int32(void);
hid_t chdf5_native_int64(void);
hid_t chdf5_c_s1(void);
/// IEEE 754 binary16, little-endian, laid out the way h5py/numpy float16 is stored.
hid_t chdf5_ieee_f16le(void);
/// Silence HDF5's own error stack printing; callers report errors themselves.
void chdf5_silence_errors(void);
#endif
