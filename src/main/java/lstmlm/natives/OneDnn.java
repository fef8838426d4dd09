package lstmlm.natives;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * oneDNN's bf16 GEMM ({@code dnnl_gemm_bf16bf16f32}: bf16 inputs, fp32 accumulation and output,
 * row-major), bound with the Foreign Function &amp; Memory API like {@link Blas}. Loaded on first
 * use only: fp32 training and inference never open it.
 *
 * <p>Threads: oneDNN runs on OpenMP (libgomp), whose team size is a per-thread setting: each Java
 * thread that calls {@link #gemmBf16} uses the count it last gave {@link #setThreads} (at first,
 * all cores). So two threads can each run a one-thread GEMM side by side without touching anyone
 * else's setting. Idle OpenMP threads wait passively ({@code OMP_WAIT_POLICY=PASSIVE}, set before
 * the library loads unless the user set it).
 */
public final class OneDnn {
    /** Below this many multiply-adds a call is over in microseconds: worth the critical path. */
    private static final long CRITICAL_MAX_WORK = 1L << 22;

    private final String source;
    private final SymbolLookup lookup;
    private final MethodHandle gemm, gemmCritical, setNumThreads, getMaxThreads;
    private final String isa, version;

    private static final class Holder {
        static final OneDnn INSTANCE = new OneDnn();
    }

    private OneDnn() {
        NativeLibraries.Loaded lib = NativeLibraries.oneDnn();
        this.source = lib.source();
        SymbolLookup lookup = lib.lookup();
        this.lookup = lookup;
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor d = FunctionDescriptor.of(JAVA_INT,
                JAVA_BYTE, JAVA_BYTE,                      // transa, transb ('N' or 'T')
                JAVA_LONG, JAVA_LONG, JAVA_LONG,           // M, N, K
                JAVA_FLOAT, JAVA_LONG, JAVA_LONG,          // alpha, A, lda
                JAVA_LONG, JAVA_LONG,                      // B, ldb
                JAVA_FLOAT, JAVA_LONG, JAVA_LONG);         // beta, C, ldc
        MemorySegment sym = find(lookup, "dnnl_gemm_bf16bf16f32");
        this.gemm = linker.downcallHandle(sym, d);
        this.gemmCritical = linker.downcallHandle(sym, d, Linker.Option.critical(false));
        // libgomp is loaded by then (libdnnl needs it), so the default lookup of the process sees it
        SymbolLookup omp = name -> lookup.find(name).or(() -> linker.defaultLookup().find(name));
        this.setNumThreads = linker.downcallHandle(find(omp, "omp_set_num_threads"), FunctionDescriptor.ofVoid(JAVA_INT));
        this.getMaxThreads = linker.downcallHandle(find(omp, "omp_get_max_threads"), FunctionDescriptor.of(JAVA_INT));
        try {
            int isaCode = (int) linker.downcallHandle(find(lookup, "dnnl_get_effective_cpu_isa"),
                    FunctionDescriptor.of(JAVA_INT)).invokeExact();
            MemorySegment name = (MemorySegment) linker.downcallHandle(find(lookup, "dnnl_cpu_isa2str"),
                    FunctionDescriptor.of(ADDRESS, JAVA_INT)).invokeExact(isaCode);
            this.isa = name.reinterpret(256).getString(0);
            MemorySegment v = ((MemorySegment) linker.downcallHandle(find(lookup, "dnnl_version"),
                    FunctionDescriptor.of(ADDRESS)).invokeExact()).reinterpret(12);
            this.version = v.get(JAVA_INT, 0) + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
        } catch (Throwable t) {
            throw new NativeLibraryException("oneDNN at " + source + " did not answer its version and ISA queries: " + t, t);
        }
    }

    private MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new NativeLibraryException(
                "The oneDNN library " + source + " has no symbol " + name
                        + ": it is not a oneDNN 3.x built with OpenMP. Point -Dlstm.dnnl or LSTM_DNNL at libdnnl.so.3."));
    }

    private static OneDnn get() {
        return Holder.INSTANCE;
    }

    /** A symbol of the loaded library, for the other oneDNN bindings ({@link PackedMatmul}). */
    static MemorySegment symbol(String name) {
        OneDnn lib = get();
        return lib.find(lib.lookup, name);
    }

    /** Loads the library now (it is otherwise loaded on first use); throws {@link NativeLibraryException} when it cannot. */
    public static void load() {
        get();
    }

    /**
     * Whether the library loads: false where it is not on the class path (it is an optional dependency
     * of the engine) or does not answer as oneDNN 3.x; callers then take their OpenBLAS path.
     */
    public static boolean available() {
        try {
            get();
            return true;
        } catch (NativeLibraryException | LinkageError absent) {
            return false;
        }
    }

    /**
     * C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major; A and B bf16 (16-bit
     * elements), C float32; offsets in elements. op(A) = A (lda ≥ k) or Aᵀ where A is stored
     * [k×m] (lda ≥ m); likewise B.
     */
    public static void gemmBf16(boolean transA, boolean transB, int m, int n, int k,
                                float alpha, MemorySegment a, long aOff, int lda,
                                MemorySegment b, long bOff, int ldb,
                                float beta, MemorySegment c, long cOff, int ldc) {
        if (m == 0 || n == 0) return;
        OneDnn lib = get();
        MethodHandle h = (long) m * n * k <= CRITICAL_MAX_WORK ? lib.gemmCritical : lib.gemm;
        int status;
        try {
            status = (int) h.invokeExact(transA ? (byte) 'T' : (byte) 'N', transB ? (byte) 'T' : (byte) 'N',
                    (long) m, (long) n, (long) k, alpha, a.address() + aOff * 2, (long) lda,
                    b.address() + bOff * 2, (long) ldb, beta, c.address() + cOff * 4, (long) ldc);
        } catch (Throwable t) {
            throw new IllegalStateException("dnnl_gemm_bf16bf16f32 failed", t);
        }
        if (status != 0) {
            throw new IllegalStateException("dnnl_gemm_bf16bf16f32(" + (transA ? 'T' : 'N') + ", " + (transB ? 'T' : 'N')
                    + ", " + m + ", " + n + ", " + k + ", lda " + lda + ", ldb " + ldb + ", ldc " + ldc
                    + ") returned status " + status);
        }
    }

    /** The OpenMP team size of the calling thread's oneDNN calls from now on: {@link ThreadPolicy} alone sets it. */
    static void setThreads(int n) {
        try {
            get().setNumThreads.invokeExact(n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The calling thread's OpenMP team size. */
    public static int threads() {
        try {
            return (int) get().getMaxThreads.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The instruction set oneDNN dispatches to here, e.g. "Intel AVX-512 with AVX512BW, ... and Intel AMX". */
    public static String isa() {
        return get().isa;
    }

    /**
     * Whether this CPU multiplies bf16 natively (AVX-512 BF16 or AMX). Without it bf16 saves no time:
     * on AVX2 ({@code cpu_isa_avx2}) oneDNN's bf16 GEMM is reference code, over 100× slower than
     * sgemm ({@code ProductPolicy.gemmPrecision} then runs fp32; docs/performance.md).
     */
    public static boolean nativeBf16() {
        String s = isa().toLowerCase(java.util.Locale.ROOT);
        return s.contains("bf16") || s.contains("amx");
    }

    public static String version() {
        return get().version;
    }

    public static String source() {
        return get().source;
    }
}
