package lstmlm.model;

import lstmlm.blas.Blas;

import java.lang.foreign.MemorySegment;

/**
 * Two independent whole-window GEMMs (dS_w beside dX of the softmax, dW_in beside dW_rec of a
 * layer). On a team of two threads they run side by side, one OpenBLAS thread each: these shapes
 * (400 to 700 rows) scale poorly from one thread to two, so two single-threaded calls finish
 * sooner than the same calls one after the other on both threads. Measured here: small's
 * softmax pair 20.3 → 18.5 ms, its dW pair 1.78 → 1.55 ms; medium's 98.9 → 94.1 and 26.5 → 24.5.
 * A single-threaded OpenBLAS call may round differently from a two-threaded one (small's first
 * epoch: train perplexity 271.359 → 270.612), so which way the pair runs depends only on the
 * engine's thread count ({@link Engine#pairsSideBySide}): same seed and threads, same bits. One reusable object:
 * nothing is allocated per call.
 */
final class GemmPair implements RowWorkers.RangeTask {
    private final Call first = new Call(), second = new Call();

    /** The arguments of one {@link Blas#sgemm} call. */
    static final class Call {
        private boolean transA, transB;
        private int m, n, k, lda, ldb, ldc;
        private float alpha, beta;
        private MemorySegment a, b, c;
        private long aOff, bOff, cOff;

        Call set(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a, long aOff, int lda,
                 MemorySegment b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
            this.transA = transA;
            this.transB = transB;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.a = a;
            this.aOff = aOff;
            this.lda = lda;
            this.b = b;
            this.bOff = bOff;
            this.ldb = ldb;
            this.beta = beta;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            return this;
        }

        void run() {
            Blas.sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        }
    }

    Call first() {
        return first;
    }

    Call second() {
        return second;
    }

    /** Runs both calls: side by side on two single-threaded OpenBLAS calls when the engine's team is two threads. */
    void run(Engine engine) {
        if (engine.pairsSideBySide()) {
            engine.runSideBySide(this);
        } else {
            first.run();
            second.run();
        }
    }

    @Override
    public void run(int chunk, int from, int to) {
        (chunk == 0 ? first : second).run();
    }
}
