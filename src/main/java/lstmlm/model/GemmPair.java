package lstmlm.model;

import java.lang.foreign.MemorySegment;

/**
 * Two independent whole-window GEMMs (dS_w beside dX of the softmax, dW_in beside dW_rec of a
 * layer). On a team of two threads they run side by side, one OpenBLAS thread each: these shapes
 * (400 to 700 rows) scale poorly from one thread to two (docs/performance.md). A one-thread
 * OpenBLAS call may round differently from a two-thread one, so which way the pair runs depends
 * only on the engine's thread count ({@link Engine#pairsSideBySide}): same seed and threads, same
 * bits. One reusable object: nothing is allocated per call.
 */
final class GemmPair implements WorkerTeam.RangeTask {
    private final Call first = new Call(), second = new Call();

    /** The arguments of one {@link WindowProducts#gemm} call that overwrites C (beta = 0). */
    static final class Call {
        private boolean transA, transB;
        private int m, n, k, lda, ldb, ldc;
        private Slab a, b;
        private MemorySegment c;
        private long aOff, bOff, cOff;

        Call set(boolean transA, boolean transB, int m, int n, int k, Slab a, long aOff, int lda,
                 Slab b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
            this.transA = transA;
            this.transB = transB;
            this.m = m;
            this.n = n;
            this.k = k;
            this.a = a;
            this.aOff = aOff;
            this.lda = lda;
            this.b = b;
            this.bOff = bOff;
            this.ldb = ldb;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            return this;
        }

        void run(Engine e) {
            e.products.gemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, 0f, c, cOff, ldc);
        }
    }

    private Engine engine;

    Call first() {
        return first;
    }

    Call second() {
        return second;
    }

    /** Runs both calls: side by side on two single-threaded OpenBLAS calls when the engine's team is two threads. */
    void run(Engine engine) {
        this.engine = engine;
        if (engine.pairsSideBySide()) {
            engine.runSideBySide(this);
        } else {
            first.run(engine);
            second.run(engine);
        }
    }

    @Override
    public void run(int chunk, int from, int to) {
        (chunk == 0 ? first : second).run(engine);
    }
}
