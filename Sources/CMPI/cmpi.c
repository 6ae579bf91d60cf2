#include "cmpi.h"
#include <limits.h>
#include <mpi.h>

static int active = 0;
static const size_t chunk = (size_t)1 << 28;   // elements (or bytes) per MPI call: counts are ints in MPI 3

int cmpi_init(int *rank, int *size) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
        // Errors come back as codes (reported by the caller with context) instead of aborting inside MPI.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

int cmpi_active(void) { return active; }

int cmpi_finalize(void) {
    if (!active) return MPI_SUCCESS;
    active = 0;
    return MPI_Finalize();
}

void cmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

// Communicators are handles into a small table; handle 0 is MPI_COMM_WORLD, the others come from MPI_Comm_split
// (e.g. groups of ranks that each train one sweep job data-parallel).
enum { max_comms = 64 };
static MPI_Comm comms[max_comms];
static int comm_count = 1;

static MPI_Comm comm_of(int handle) { return handle == 0 ? MPI_COMM_WORLD : comms[handle]; }

int cmpi_comm_split(int parent, int color, int key, int *handle, int *rank, int *size) {
    if (comm_count >= max_comms) return MPI_ERR_OTHER;
    MPI_Comm c;
    int rc = MPI_Comm_split(comm_of(parent), color, key, &c);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    comms[comm_count] = c;
    *handle = comm_count++;
    MPI_Comm_rank(c, rank);
    return MPI_Comm_size(c, size);
}

// One loop for both element types: `size` bytes per element of `type`.
static int allreduce_sum(int handle, void *buffer, size_t count, size_t size, MPI_Datatype type) {
    for (size_t done = 0; done < count; done += chunk) {
        size_t n = count - done < chunk ? count - done : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buffer + done * size, (int)n, type, MPI_SUM, comm_of(handle));
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_allreduce_sum_float(int handle, float *buffer, size_t count) {
    return allreduce_sum(handle, buffer, count, sizeof *buffer, MPI_FLOAT);
}

int cmpi_allreduce_sum_double(int handle, double *buffer, size_t count) {
    return allreduce_sum(handle, buffer, count, sizeof *buffer, MPI_DOUBLE);
}

int cmpi_broadcast(int handle, void *buffer, size_t bytes, int root) {
    for (size_t done = 0; done < bytes; done += chunk) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        int rc = MPI_Bcast((char *)buffer + done, (int)n, MPI_BYTE, root, comm_of(handle));
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_gather(int handle, const void *buffer, size_t bytes, void *out, int root) {
    if (bytes > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Gather(buffer, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, root, comm_of(handle));
}

int cmpi_barrier(int handle) { return MPI_Barrier(comm_of(handle)); }

const char *cmpi_error_string(int code) {
    static char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "unknown MPI error";
    return text;
}
