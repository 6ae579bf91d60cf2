#ifndef CMPI_H
#define CMPI_H
// Open MPI (Debian's libopenmpi-dev), reduced to the few collectives data-parallel training needs, on MPI_COMM_WORLD
// and its splits. MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are macros over global structs that Swift cannot
// import, so they stay on this side. Every function returns MPI_SUCCESS (0) or an MPI error code; counts may exceed
// INT_MAX (they are sent in chunks).
#include <stddef.h>

/// MPI_Init_thread(FUNNELED) once; *rank and *size of MPI_COMM_WORLD. Errors are returned, not fatal.
int cmpi_init(int *rank, int *size);
/// 1 after cmpi_init succeeded and before cmpi_finalize.
int cmpi_active(void);
int cmpi_finalize(void);
/// Ends every process of the job (after an error on one of them).
void cmpi_abort(int code);

/// Splits communicator `parent` (0: MPI_COMM_WORLD) as MPI_Comm_split: processes with the same `color` form one new
/// communicator, ordered by `key`. *handle names it in the calls below; *rank and *size are this process's.
int cmpi_comm_split(int parent, int color, int key, int *handle, int *rank, int *size);
/// The collectives, on the communicator `handle` (0: MPI_COMM_WORLD). In place, element-wise sum over its processes:
int cmpi_allreduce_sum_float(int handle, float *buffer, size_t count);
int cmpi_allreduce_sum_double(int handle, double *buffer, size_t count);
int cmpi_broadcast(int handle, void *buffer, size_t bytes, int root);
/// Every process sends `bytes` bytes; root receives all of them in rank order into `out` (size × bytes).
int cmpi_gather(int handle, const void *buffer, size_t bytes, void *out, int root);
int cmpi_barrier(int handle);
/// A readable message for an MPI error code (static storage).
const char *cmpi_error_string(int code);
#endif
