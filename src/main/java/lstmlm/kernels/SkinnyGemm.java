package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.FloatVector;

/**
 * C[m×n] += A[m×k] · B[k×n] for few rows (the per-step recurrent product: m = batch = 20),
 * row-major, over columns [colFrom, colTo) so threads can split the columns.
 *
 * <p>OpenBLAS runs these shapes at half its large-matrix rate: its packing and blocking are built
 * for many rows. Here each block of 64 columns of B (k × 64 floats, 166 KB at k = 650) is streamed
 * once from memory into L2 and then reused from L2 for every group of 5 rows; the 5 × 4 register
 * block does 20 FMAs per 4 vector loads and 5 broadcasts.
 */
public final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final int ROWS = 5, VECTORS = 4;

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
            for (; r + ROWS <= m; r += ROWS) block5x4(k, a, aOff + (long) r * lda, lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j, ldc);
            for (; r < m; r++) block1x4(k, a, aOff + (long) r * lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j);
        }
        for (; j + L <= colTo; j += L) {
            for (int r = 0; r < m; r++) block1x1(k, a, aOff + (long) r * lda, b, bOff + j, ldb, c, cOff + (long) r * ldc + j);
        }
        for (; j < colTo; j++) {
            for (int r = 0; r < m; r++) {
                float s = 0;
                for (int p = 0; p < k; p++) {
                    s = Math.fma(a.getAtIndex(FLOAT, aOff + (long) r * lda + p), b.getAtIndex(FLOAT, bOff + (long) p * ldb + j), s);
                }
                long at = cOff + (long) r * ldc + j;
                c.setAtIndex(FLOAT, at, c.getAtIndex(FLOAT, at) + s);
            }
        }
    }

    /** 5 rows × 4 vectors of C: 20 accumulators. aRow, bCol, cAt: float offsets of the block's corner. */
    private static void block5x4(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt, int ldc) {
        final int L = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00, c43 = c00;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda;
        for (int p = 0; p < k; p++) {
            final long bp = 4 * (bCol + (long) p * ldb);
            FloatVector b0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE);
            FloatVector b2 = FloatVector.fromMemorySegment(F, b, bp + 8L * L, NATIVE);
            FloatVector b3 = FloatVector.fromMemorySegment(F, b, bp + 12L * L, NATIVE);
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a0 + p));
            c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a1 + p));
            c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a2 + p));
            c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a3 + p));
            c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
            x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a4 + p));
            c40 = b0.fma(x, c40); c41 = b1.fma(x, c41); c42 = b2.fma(x, c42); c43 = b3.fma(x, c43);
        }
        final long v = 4L * L;
        long at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c00).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c01).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c02).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c03).intoMemorySegment(c, at + 3 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c10).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c11).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c12).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c13).intoMemorySegment(c, at + 3 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c20).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c21).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c22).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c23).intoMemorySegment(c, at + 3 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c30).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c31).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c32).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c33).intoMemorySegment(c, at + 3 * v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c40).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c41).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c42).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c43).intoMemorySegment(c, at + 3 * v, NATIVE);
    }

    private static void block1x4(int k, MemorySegment a, long aRow, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt) {
        final int L = F.length();
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < k; p++) {
            final long bp = 4 * (bCol + (long) p * ldb);
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, aRow + p));
            c0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE).fma(x, c0);
            c1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE).fma(x, c1);
            c2 = FloatVector.fromMemorySegment(F, b, bp + 8L * L, NATIVE).fma(x, c2);
            c3 = FloatVector.fromMemorySegment(F, b, bp + 12L * L, NATIVE).fma(x, c3);
        }
        final long v = 4L * L, at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c0).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c1).intoMemorySegment(c, at + v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 2 * v, NATIVE).add(c2).intoMemorySegment(c, at + 2 * v, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + 3 * v, NATIVE).add(c3).intoMemorySegment(c, at + 3 * v, NATIVE);
    }

    private static void block1x1(int k, MemorySegment a, long aRow, MemorySegment b, long bCol, int ldb,
                                 MemorySegment c, long cAt) {
        FloatVector acc = FloatVector.zero(F);
        for (int p = 0; p < k; p++) {
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, aRow + p));
            acc = FloatVector.fromMemorySegment(F, b, 4 * (bCol + (long) p * ldb), NATIVE).fma(x, acc);
        }
        FloatVector.fromMemorySegment(F, c, 4 * cAt, NATIVE).add(acc).intoMemorySegment(c, 4 * cAt, NATIVE);
    }
}
