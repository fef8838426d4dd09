package lstmlm.model;

import lstmlm.kernels.SkinnyGemm;
import lstmlm.kernels.Transpose;

import java.lang.foreign.MemorySegment;

/**
 * The per-step recurrent products, C[b×n] += A[b×k]·B[k×n] with b = batch rows, on the Java
 * few-row kernel with the columns split over the workers in whole 64-column blocks (so the result
 * does not depend on the thread count). One reusable task object: nothing is allocated per step.
 */
final class RecurrentProduct implements RowWorkers.RangeTask {
    /** Above this many rows OpenBLAS's blocking pays off again. */
    static final int MAX_ROWS = 32;

    private int m, k, lda, ldb, ldc, n;
    private MemorySegment a, b, c;
    private long aOff, bOff, cOff;
    private boolean transposing;

    void multiplyAdd(RowWorkers workers, int m, int k, MemorySegment a, long aOff, int lda,
                     MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc, int n) {
        this.m = m;
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
        this.n = n;
        this.transposing = false;
        int block = SkinnyGemm.columnBlock();
        workers.forRange(0, (n + block - 1) / block, this);
    }

    /** dst[cols × rows] = src[rows × cols]ᵀ, rows split over the workers. */
    void transpose(RowWorkers workers, MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff) {
        this.a = src;
        this.aOff = srcOff;
        this.m = rows;
        this.n = cols;
        this.c = dst;
        this.cOff = dstOff;
        this.transposing = true;
        workers.forRange(0, rows, this);
    }

    @Override
    public void run(int chunk, int from, int to) {
        if (transposing) {
            Transpose.copy(a, aOff, m, n, c, cOff, from, to);
        } else {
            int block = SkinnyGemm.columnBlock();
            SkinnyGemm.multiplyAdd(m, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, from * block, Math.min(to * block, n));
        }
    }
}
