package lstmlm.model;

import lstmlm.kernels.SkinnyGemm;

import java.lang.foreign.MemorySegment;

/**
 * The per-step recurrent products, C[b×n] += A[b×k]·B[k×n] with b = batch rows, on the Java
 * few-row kernel over B packed into column panels; the panels are split over the workers, whole
 * ones only (so the result does not depend on the thread count). Packing runs on the workers too.
 * One reusable task object: nothing is allocated per step.
 */
final class RecurrentProduct implements WorkerTeam.RangeTask {
    /** Above this many rows OpenBLAS's blocking pays off again. */
    static final int MAX_ROWS = 32;

    private enum Mode { MULTIPLY, PACK, PACK_TRANSPOSED }

    private Mode mode;
    // packing uses a / aOff / ldb as the source and c / cOff as the destination
    private int m, k, lda, ldb, ldc, n;
    private MemorySegment a, b, c;
    private long aOff, bOff, cOff;
    /** One {@link SkinnyGemm#scratchSize()} tile per chunk, for a partial last panel. */
    private MemorySegment scratch;
    private long scratchOff;

    /** C[m×n] += A[m×k] · B, with B packed by {@link #pack} or {@link #packTransposed}. */
    void multiplyAdd(WorkerTeam workers, int m, int k, MemorySegment a, long aOff, int lda,
                     MemorySegment panels, long panelsOff, MemorySegment c, long cOff, int ldc, int n,
                     MemorySegment scratch, long scratchOff) {
        this.scratch = scratch;
        this.scratchOff = scratchOff;
        this.mode = Mode.MULTIPLY;
        this.m = m;
        this.k = k;
        this.a = a;
        this.aOff = aOff;
        this.lda = lda;
        this.b = panels;
        this.bOff = panelsOff;
        this.c = c;
        this.cOff = cOff;
        this.ldc = ldc;
        this.n = n;
        workers.forRange(0, SkinnyGemm.panelCount(n), this);
    }

    /** dst = B[k×n] (row stride ldb) as panels. */
    void pack(WorkerTeam workers, MemorySegment src, long srcOff, int ldb, int k, int n, MemorySegment dst, long dstOff) {
        packing(Mode.PACK, workers, src, srcOff, ldb, k, n, dst, dstOff);
    }

    /** dst = Wᵀ [k×n] as panels, for W[n×k] with row stride ldw. */
    void packTransposed(WorkerTeam workers, MemorySegment w, long wOff, int ldw, int k, int n, MemorySegment dst, long dstOff) {
        packing(Mode.PACK_TRANSPOSED, workers, w, wOff, ldw, k, n, dst, dstOff);
    }

    private void packing(Mode mode, WorkerTeam workers, MemorySegment src, long srcOff, int ld, int k, int n,
                         MemorySegment dst, long dstOff) {
        this.mode = mode;
        this.a = src;
        this.aOff = srcOff;
        this.ldb = ld;
        this.k = k;
        this.n = n;
        this.c = dst;
        this.cOff = dstOff;
        workers.forRange(0, SkinnyGemm.panelCount(n), this);
    }

    @Override
    public void run(int chunk, int from, int to) {
        switch (mode) {
            case MULTIPLY -> SkinnyGemm.multiplyAdd(m, k, a, aOff, lda, b, bOff, c, cOff, ldc, n, from, to,
                    scratch, scratchOff + (long) chunk * SkinnyGemm.scratchSize());
            case PACK -> SkinnyGemm.pack(a, aOff, ldb, k, n, c, cOff, from, to);
            case PACK_TRANSPOSED -> SkinnyGemm.packTransposed(a, aOff, ldb, k, n, c, cOff, from, to);
        }
    }
}
