package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * C[m×n] += A[m×k] · B[k×n] for few rows (the per-step recurrent product: m = batch = 20),
 * row-major, over columns [colFrom, colTo) so threads can split the columns.
 *
 * <p>OpenBLAS runs these shapes at half its large-matrix rate: its packing and blocking are built
 * for many rows. Here each block of 48 columns of B (k × 48 floats, 125 KB at k = 650) is streamed
 * once from memory and then reused from L2 for every group of 4 rows; the 4 × 3 register block
 * does 12 FMAs per 3 vector loads and 4 broadcasts.
 *
 * <p>Why 4 × 3 and not larger: a 5 × 4 block is as fast once C2 has it, but C1 gives up on it
 * ("out of virtual registers"), and when that first attempt is an on-stack replacement the method
 * can stay interpreted for the rest of the run, 60× slower. 4 × 3 compiles at every tier.
 */
public final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final int ROWS = 4, VECTORS = 3;

    /** Width of the column blocks: split columns among threads at multiples of this. */
    public static int columnBlock() {
        return VECTORS * F.length();
    }

    /** Offsets in floats; lda, ldb, ldc are row strides in floats. */
    public static void multiplyAdd(int m, int k, MemorySegment a, long aOff, int lda,
                                   MemorySegment b, long bOff, int ldb,
                                   MemorySegment c, long cOff, int ldc, int colFrom, int colTo) {
        final int L = F.length(), block = VECTORS * L;
        int j = colFrom;
        for (; j + block <= colTo; j += block) {
            int r = 0;
            for (; r + ROWS <= m; r += ROWS) block4x3(k, a, aOff + (long) r * lda, lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j, ldc);
            for (; r < m; r++) block1x3(k, a, aOff + (long) r * lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j);
        }
        // the last columns one vector at a time, the final one masked
        for (; j < colTo; j += L) {
            int lanes = Math.min(L, colTo - j);
            for (int r = 0; r < m; r++) block1x1(k, a, aOff + (long) r * lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j, lanes);
        }
    }

    /** 4 rows × 3 vectors of C: 12 accumulators. aRow, bCol, cAt: float offsets of the block's corner. */
    private static void block4x3(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt, int ldc) {
        final int L = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < k; p++) {
            final long bp = 4 * (bCol + (long) p * ldb);
            FloatVector b0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(F, b, bp + 8L * L, NATIVE);
            FloatVector x0 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a0 + p));
            c00 = b0.fma(x0, c00); c01 = b1.fma(x0, c01); c02 = b2.fma(x0, c02);
            FloatVector x1 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a1 + p));
            c10 = b0.fma(x1, c10); c11 = b1.fma(x1, c11); c12 = b2.fma(x1, c12);
            FloatVector x2 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a2 + p));
            c20 = b0.fma(x2, c20); c21 = b1.fma(x2, c21); c22 = b2.fma(x2, c22);
            FloatVector x3 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a3 + p));
            c30 = b0.fma(x3, c30); c31 = b1.fma(x3, c31); c32 = b2.fma(x3, c32);
        }
        final long v = 4L * L;
        long at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c00).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c01).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c02).intoMemorySegment(c, at + 2 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c10).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c11).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c12).intoMemorySegment(c, at + 2 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c20).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c21).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c22).intoMemorySegment(c, at + 2 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c30).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c31).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c32).intoMemorySegment(c, at + 2 * v, NATIVE);
    }

    private static void block1x3(int k, MemorySegment a, long aRow, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt) {
        final int L = F.length();
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0;
        for (int p = 0; p < k; p++) {
            final long bp = 4 * (bCol + (long) p * ldb);
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, aRow + p));
            c0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE).fma(x, c0);
            c1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE).fma(x, c1);
            c2 = FloatVector.fromMemorySegment(F, b, bp + 8L * L, NATIVE).fma(x, c2);
        }
        final long v = 4L * L, at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c0).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c1).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c2).intoMemorySegment(c, at + 2 * v, NATIVE);
    }

    /** The first {@code lanes} columns of one vector of one row; the others are neither read nor written. */
    private static void block1x1(int k, MemorySegment a, long aRow, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt, int lanes) {
        VectorMask<Float> live = F.indexInRange(0, lanes);
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < k; p++) {
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, aRow + p));
            acc = FloatVector.fromMemorySegment(F, b, 4 * (bCol + (long) p * ldb), NATIVE, live).fma(x, acc);
        }
        FloatVector.fromMemorySegment(F, c, 4 * cAt, NATIVE, live).add(acc).intoMemorySegment(c, 4 * cAt, NATIVE, live);
    }
}
