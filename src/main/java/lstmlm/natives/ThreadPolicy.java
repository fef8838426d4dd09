package lstmlm.natives;

/**
 * The one owner of the native libraries' thread pools: nothing else sets them. OpenBLAS has one
 * thread count for the whole process; oneDNN's OpenMP has one team size per calling thread. A
 * program sets them once when it starts its work (the training engine when it is built, a command
 * before it scores); the engine's side-by-side GEMM pair is the one place that runs OpenBLAS on one
 * thread for the length of a call, because OpenBLAS offers no per-call count in its pthreads build
 * (its {@code openblas_set_num_threads_local} is the global setter there) and because the pair's
 * two one-thread calls both pay and keep a run's bits fixed by its thread count
 * (docs/performance.md). The inference API never calls this: an embedding program owns its pools.
 */
public final class ThreadPolicy {
    private ThreadPolicy() {}

    /** OpenBLAS's thread count, for the whole process. */
    public static void useBlasThreads(int threads) {
        check(threads);
        Blas.setThreads(threads);
    }

    /** The OpenMP team of the calling thread's oneDNN calls from now on. */
    public static void useOpenMpThreads(int threads) {
        check(threads);
        OneDnn.setThreads(threads);
    }

    public static int blasThreads() {
        return Blas.threads();
    }

    /** The calling thread's OpenMP team size. */
    public static int openMpThreads() {
        return OneDnn.threads();
    }

    private static void check(int threads) {
        if (threads < 1) throw new IllegalArgumentException("a thread count must be at least 1, got " + threads);
    }
}
