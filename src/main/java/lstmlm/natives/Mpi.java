package lstmlm.natives;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * MPI through the FFM API: the few calls data-parallel training makes (init with a thread level,
 * rank and size of MPI_COMM_WORLD, in-place allreduce of floats and doubles, broadcast, abort,
 * finalize). The library is found and opened by {@link NativeLibraries#mpi()}.
 *
 * <p>The two MPI families differ in their handles, and only here: Open MPI's {@code MPI_Comm},
 * {@code MPI_Datatype} and {@code MPI_Op} are pointers, the addresses of global objects the library
 * exports ({@code ompi_mpi_comm_world}, {@code ompi_mpi_float}, {@code ompi_mpi_op_sum}, …) and
 * {@code MPI_IN_PLACE} is {@code (void *) 1}; MPICH's (and its derivatives') are {@code int}
 * constants from its {@code mpi.h} ({@code MPI_COMM_WORLD} 0x44000000, {@code MPI_FLOAT}
 * 0x4c00040a, {@code MPI_DOUBLE} 0x4c00080b, {@code MPI_BYTE} 0x4c00010d, {@code MPI_SUM}
 * 0x58000003) and {@code MPI_IN_PLACE} is {@code (void *) -1}. The family is told by whether
 * {@code ompi_mpi_comm_world} exists; the handles are then bound into the method handles once.
 *
 * <p>Thread level MPI_THREAD_FUNNELED: only the thread that initialised MPI calls it (the training
 * loop's); the workers inside a window never do.
 */
public final class Mpi implements Communicator {
    private static final int MPI_THREAD_FUNNELED = 1; // the same in Open MPI and MPICH: SINGLE, FUNNELED, SERIALIZED, MULTIPLE
    /** Counts are C ints: larger buffers go in pieces. */
    private static final int MAX_COUNT = 1 << 30;

    private final String library;
    private final boolean openMpi;
    private final MethodHandle allreduceFloat, allreduceDouble, bcastBytes, abort, finalizeHandle;
    private final MemorySegment inPlace;
    private final int rank, size;
    private final String version;
    private boolean closed;

    private Mpi(NativeLibraries.Loaded lib) throws Throwable {
        this.library = lib.source();
        SymbolLookup l = lib.lookup();
        Linker linker = Linker.nativeLinker();
        this.openMpi = l.find("ompi_mpi_comm_world").isPresent();
        MemoryLayout handle = openMpi ? ADDRESS : JAVA_INT;
        Object comm = openMpi ? l.find("ompi_mpi_comm_world").orElseThrow() : 0x44000000;
        Object fl = openMpi ? l.find("ompi_mpi_float").orElseThrow() : 0x4c00040a;
        Object db = openMpi ? l.find("ompi_mpi_double").orElseThrow() : 0x4c00080b;
        Object by = openMpi ? l.find("ompi_mpi_byte").orElseThrow() : 0x4c00010d;
        Object sum = openMpi ? l.find("ompi_mpi_op_sum").orElseThrow() : 0x58000003;
        this.inPlace = MemorySegment.ofAddress(openMpi ? 1L : -1L);

        MethodHandle initialized = linker.downcallHandle(l.find("MPI_Initialized").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle initThread = linker.downcallHandle(l.find("MPI_Init_thread").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        MethodHandle commRank = linker.downcallHandle(l.find("MPI_Comm_rank").orElseThrow(), FunctionDescriptor.of(JAVA_INT, handle, ADDRESS));
        MethodHandle commSize = linker.downcallHandle(l.find("MPI_Comm_size").orElseThrow(), FunctionDescriptor.of(JAVA_INT, handle, ADDRESS));
        MethodHandle allreduce = linker.downcallHandle(l.find("MPI_Allreduce").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, handle, handle, handle));
        MethodHandle bcast = linker.downcallHandle(l.find("MPI_Bcast").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, handle, JAVA_INT, handle));
        MethodHandle abortRaw = linker.downcallHandle(l.find("MPI_Abort").orElseThrow(), FunctionDescriptor.of(JAVA_INT, handle, JAVA_INT));
        this.finalizeHandle = linker.downcallHandle(l.find("MPI_Finalize").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
        MethodHandle libraryVersion = linker.downcallHandle(l.find("MPI_Get_library_version").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

        // the handles bound in: (send, recv, count) -> rc, (buffer, count, root) -> rc, (code) -> rc
        this.allreduceFloat = MethodHandles.insertArguments(allreduce, 3, fl, sum, comm);
        this.allreduceDouble = MethodHandles.insertArguments(allreduce, 3, db, sum, comm);
        this.bcastBytes = MethodHandles.insertArguments(MethodHandles.insertArguments(bcast, 4, comm), 2, by);
        this.abort = MethodHandles.insertArguments(abortRaw, 0, comm);

        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(JAVA_INT), provided = a.allocate(JAVA_INT);
            check((int) initialized.invokeExact(flag), "MPI_Initialized");
            if (flag.get(JAVA_INT, 0) == 0) {
                check((int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, MPI_THREAD_FUNNELED, provided),
                        "MPI_Init_thread");
                if (provided.get(JAVA_INT, 0) < MPI_THREAD_FUNNELED) {
                    throw new NativeLibraryException(library + " gives thread level " + provided.get(JAVA_INT, 0)
                            + ", below MPI_THREAD_FUNNELED: build or configure MPI with thread support.");
                }
            }
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) MethodHandles.insertArguments(commRank, 0, comm).invoke(out), "MPI_Comm_rank");
            this.rank = out.get(JAVA_INT, 0);
            check((int) MethodHandles.insertArguments(commSize, 0, comm).invoke(out), "MPI_Comm_size");
            this.size = out.get(JAVA_INT, 0);
            MemorySegment text = a.allocate(8192), length = a.allocate(JAVA_INT); // MPI_MAX_LIBRARY_VERSION_STRING is 256 (Open MPI), 8192 (MPICH)
            check((int) libraryVersion.invokeExact(text, length), "MPI_Get_library_version");
            this.version = text.getString(0).lines().findFirst().orElse("").strip();
        }
    }

    /** Loads MPI ({@link NativeLibraries#mpi()}), initialises it and joins MPI_COMM_WORLD. */
    public static Mpi init() {
        NativeLibraries.Loaded lib = NativeLibraries.mpi();
        try {
            return new Mpi(lib);
        } catch (NativeLibraryException e) {
            throw e;
        } catch (Throwable t) {
            throw new NativeLibraryException("MPI from " + lib.source() + " could not start: " + t.getMessage()
                    + ". Start the ranks with mpirun (for example mpirun -np 2 ./lstm train ... --distributed).", t);
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allreduceSum(MemorySegment floats, long offset, long count) {
        checkOpen();
        if (!floats.isNative()) { // a Java array's memory cannot go to native code: through a native copy
            try (Arena a = Arena.ofConfined()) {
                MemorySegment copy = a.allocate(count * Float.BYTES, 64);
                MemorySegment.copy(floats, offset * Float.BYTES, copy, 0, count * Float.BYTES);
                allreduceSum(copy, 0, count);
                MemorySegment.copy(copy, 0, floats, offset * Float.BYTES, count * Float.BYTES);
            }
            return;
        }
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(MAX_COUNT, count - done);
            MemorySegment part = floats.asSlice((offset + done) * Float.BYTES, (long) n * Float.BYTES);
            try {
                check((int) allreduceFloat.invokeExact(inPlace, part, n), "MPI_Allreduce");
            } catch (Throwable t) {
                throw rethrow(t);
            }
            done += n;
        }
    }

    @Override
    public void allreduceSum(double[] values) {
        checkOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocateFrom(JAVA_DOUBLE, values);
            check((int) allreduceDouble.invokeExact(inPlace, buf, values.length), "MPI_Allreduce");
            MemorySegment.copy(buf, JAVA_DOUBLE, 0, values, 0, values.length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void broadcast(MemorySegment data, long bytes, int root) {
        checkOpen();
        if (!data.isNative()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment copy = a.allocate(bytes, 64);
                MemorySegment.copy(data, 0, copy, 0, bytes);
                broadcast(copy, bytes, root);
                MemorySegment.copy(copy, 0, data, 0, bytes);
            }
            return;
        }
        for (long done = 0; done < bytes; ) {
            int n = (int) Math.min(MAX_COUNT, bytes - done);
            try {
                check((int) bcastBytes.invokeExact(data.asSlice(done, n), n, root), "MPI_Bcast");
            } catch (Throwable t) {
                throw rethrow(t);
            }
            done += n;
        }
    }

    @Override
    public String describe() {
        return (openMpi ? "Open MPI" : "MPICH-family MPI") + ", rank " + rank + " of " + size + " (" + version + "; " + library + ")";
    }

    @Override
    public void abort(int code) {
        try {
            int ignored = (int) abort.invokeExact(code);
        } catch (Throwable t) {
            // fall through: this rank at least ends
        }
        Runtime.getRuntime().halt(code);
    }

    /** MPI_Finalize: every rank calls it once, at the end. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            check((int) finalizeHandle.invokeExact(), "MPI_Finalize");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("MPI is finalized");
    }

    private static void check(int rc, String call) {
        if (rc != 0) throw new IllegalStateException(call + " failed with MPI error code " + rc);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
