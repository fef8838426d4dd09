package lstmlm.natives;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Row-major single-precision GEMM from OpenBLAS, bound with the Foreign Function &amp; Memory API.
 *
 * <p>Matrices are addressed as (segment, offset in floats). The downcall takes raw addresses as
 * {@code long}s: on the SysV x86-64 ABI a pointer and a 64-bit integer travel in the same
 * register, and passing longs means no slice object per call in the step loop. The caller keeps
 * the segments alive (ours live in global or long-lived arenas).
 *
 * <p>Calls whose work is small go through a {@link Linker.Option#critical critical} handle,
 * which skips the Java-to-native thread-state transition; large ones use the ordinary handle so a
 * long multiply never holds up a safepoint.
 */
public final class Blas {
    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    /** Below this many multiply-adds a call is over in microseconds: worth the critical path. */
    private static final long CRITICAL_MAX_WORK = 1L << 22;

    private static final Blas INSTANCE = new Blas();

    private final String source;
    private final SymbolLookup lookup;
    private final MethodHandle sgemm, sgemmCritical, setThreads, getThreads, coreName, config;

    private Blas() {
        NativeLibraries.Loaded lib = NativeLibraries.openBlas();
        this.source = lib.source();
        Linker linker = Linker.nativeLinker();
        this.lookup = lib.lookup();
        FunctionDescriptor gemm = FunctionDescriptor.ofVoid(
                JAVA_INT, JAVA_INT, JAVA_INT,            // order, transA, transB
                JAVA_INT, JAVA_INT, JAVA_INT,            // M, N, K
                JAVA_FLOAT, JAVA_LONG, JAVA_INT,         // alpha, A, lda
                JAVA_LONG, JAVA_INT,                     // B, ldb
                JAVA_FLOAT, JAVA_LONG, JAVA_INT);        // beta, C, ldc
        MemorySegment sym = find(lookup, "cblas_sgemm");
        this.sgemm = linker.downcallHandle(sym, gemm);
        this.sgemmCritical = linker.downcallHandle(sym, gemm, Linker.Option.critical(false));
        this.setThreads = linker.downcallHandle(find(lookup, "openblas_set_num_threads"), FunctionDescriptor.ofVoid(JAVA_INT));
        this.getThreads = linker.downcallHandle(find(lookup, "openblas_get_num_threads"), FunctionDescriptor.of(JAVA_INT));
        this.coreName = linker.downcallHandle(find(lookup, "openblas_get_corename"), FunctionDescriptor.of(ADDRESS));
        this.config = linker.downcallHandle(find(lookup, "openblas_get_config"), FunctionDescriptor.of(ADDRESS));
    }

    private MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new NativeLibraryException(
                "The BLAS library " + source + " has no symbol " + name
                        + ": it is not an OpenBLAS build. Point -Dlstm.blas or LSTM_BLAS at libopenblas.so."));
    }

    /**
     * C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major; offsets in floats.
     * op(A) = A (lda ≥ k) or Aᵀ where A is stored [k×m] (lda ≥ m); likewise B.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                             float alpha, MemorySegment a, long aOff, int lda,
                             MemorySegment b, long bOff, int ldb,
                             float beta, MemorySegment c, long cOff, int ldc) {
        sgemm(transA, transB, m, n, k, alpha,
                a.address() + aOff * Float.BYTES, lda,
                b.address() + bOff * Float.BYTES, ldb,
                beta, c.address() + cOff * Float.BYTES, ldc);
    }

    /** The same on raw native addresses (bytes). */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                             float alpha, long a, int lda, long b, int ldb,
                             float beta, long c, int ldc) {
        if (m == 0 || n == 0) return;
        MethodHandle h = (long) m * n * k <= CRITICAL_MAX_WORK ? INSTANCE.sgemmCritical : INSTANCE.sgemm;
        try {
            h.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS,
                    m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm failed", t);
        }
    }

    /** OpenBLAS's process-wide thread count: {@link ThreadPolicy} alone sets it. */
    static void setThreads(int n) {
        try {
            INSTANCE.setThreads.invokeExact(n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int threads() {
        try {
            return (int) INSTANCE.getThreads.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The kernel family OpenBLAS picked for this CPU, e.g. "Cooperlake" or "Haswell". */
    public static String coreName() {
        return cString(INSTANCE.coreName);
    }

    /** Build options of the loaded OpenBLAS (version, threading model, max threads). */
    public static String config() {
        return cString(INSTANCE.config);
    }

    /** A function of the loaded library, for callers that bind more of it (the benchmarks do). */
    public static MemorySegment symbol(String name) {
        return INSTANCE.find(INSTANCE.lookup, name);
    }

    /** Where the library was loaded from. */
    public static String source() {
        return INSTANCE.source;
    }

    private static String cString(MethodHandle h) {
        try {
            MemorySegment p = (MemorySegment) h.invokeExact();
            return p.reinterpret(Long.MAX_VALUE).getString(0).trim();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
