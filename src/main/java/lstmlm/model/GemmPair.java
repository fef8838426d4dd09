package lstmlm.model;

/**
 * Two independent whole-window GEMMs (dS_w beside dX of the softmax, dW_in beside dW_rec of a
 * layer). On a team of two threads they run side by side, one OpenBLAS thread each: these shapes
 * (400 to 700 rows) scale poorly from one thread to two (docs/performance.md). A one-thread
 * OpenBLAS call may round differently from a two-thread one, so which way the pair runs depends
 * only on the engine's thread count ({@link Engine#pairsSideBySide}): same seed and threads, same
 * bits. One reusable object per window.
 */
final class GemmPair implements WorkerTeam.RangeTask {
    private final Call first = new Call(), second = new Call();

    /** The operands of one {@link WindowProducts#gemm} call that overwrites C (beta = 0). */
    static final class Call {
        private Matrix a, b, c;

        /** C = A·B, when the pair runs. */
        void set(Matrix a, Matrix b, Matrix c) {
            this.a = a;
            this.b = b;
            this.c = c;
        }

        void run(Engine e) {
            e.products.gemm(a, b, 0f, c);
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
