package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.F;
import static lstmlm.kernels.VectorShapes.NATIVE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.FloatVector;

/**
 * C[m×n] += A[m×k] · B[k×n] for few rows (the per-step recurrent product: m = batch = 20), with B
 * packed once into column panels, over panels [panelFrom, panelTo) so threads can split them.
 *
 * <p>Why panels: B is the recurrent weight, 36 MB per layer for {@code large}, re-read from memory
 * at every step. Read in place, each k-row of a 48-column block is 192 bytes on a different page,
 * which defeats the hardware prefetcher and the TLB; the backward product's block (k = 4H = 6000
 * long, 1.1 MB) does not even fit in L2. A panel is {@link #panelWidth()} columns of B stored
 * k × width contiguously (zero-padded past n), so B streams sequentially; a panel is worked in
 * chunks of at most {@link #MAX_CHUNK} k-rows (192 KB) that stay in L2 while every group of 4
 * rows of A passes over them. Measured at the large shapes on 2 threads: 45 → 175 GFLOP/s for the
 * backward product, 120 → 160 for the forward one.
 *
 * <p>The 4 × 3 register block does 12 FMAs per 3 vector loads and 4 broadcasts. Why not larger: a
 * 5 × 4 block is as fast once C2 has it, but C1 gives up on it ("out of virtual registers"), and
 * when that first attempt is an on-stack replacement the method can stay interpreted for the rest
 * of the run, 60× slower. 4 × 3 compiles at every tier.
 *
 * <p>Every element of C is summed by one thread in a fixed order (k-chunks in order, each added to
 * C), so the result does not depend on how the panels are split.
 */
public final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final int ROWS = 4, VECTORS = 3;
    /** Longest k-chunk: 1024 rows × 48 floats = 192 KB of panel, plus 80 KB of A, well inside L2. */
    static final int MAX_CHUNK = 1024;

    /** Columns per panel: 3 vectors (48 with AVX-512, 24 with AVX2). */
    public static int panelWidth() {
        return VECTORS * F.length();
    }

    public static int panelCount(int n) {
        return (n + panelWidth() - 1) / panelWidth();
    }

    /** Floats needed to hold B[k×n] as panels. */
    public static long packedSize(int k, int n) {
        return (long) panelCount(n) * k * panelWidth();
    }

    /** Panels [panelFrom, panelTo) of B[k×n] (row-major, row stride ldb) into dst, zero-padded past n. */
    public static void pack(MemorySegment b, long bOff, int ldb, int k, int n,
                            MemorySegment dst, long dstOff, int panelFrom, int panelTo) {
        final int L = F.length(), width = panelWidth();
        for (int q = panelFrom; q < panelTo; q++) {
            int col = q * width, live = Math.min(width, n - col);
            long out = dstOff + (long) q * k * width, in = bOff + col;
            if (live == width) {
                for (int p = 0; p < k; p++, out += width, in += ldb) {
                    FloatVector.fromMemorySegment(F, b, 4 * in, NATIVE).intoMemorySegment(dst, 4 * out, NATIVE);
                    FloatVector.fromMemorySegment(F, b, 4 * (in + L), NATIVE).intoMemorySegment(dst, 4 * (out + L), NATIVE);
                    FloatVector.fromMemorySegment(F, b, 4 * (in + 2 * L), NATIVE).intoMemorySegment(dst, 4 * (out + 2 * L), NATIVE);
                }
            } else { // the last, partial panel: live columns, then zeros
                for (int p = 0; p < k; p++, out += width, in += ldb) {
                    for (int j = 0; j < width; j++) dst.setAtIndex(FLOAT, out + j, j < live ? b.getAtIndex(FLOAT, in + j) : 0f);
                }
            }
        }
    }

    /** Tile edge along k for {@link #packTransposed}: 64 k-rows × 48 columns, 12 KB, stays in L1. */
    private static final int TRANSPOSE_TILE = 64;

    /**
     * Panels [panelFrom, panelTo) of B = Wᵀ [k×n], where W[n×k] is row-major with row stride ldw:
     * panel q is W's rows [q·width, q·width + width) turned on their side. Zero-padded past n.
     */
    public static void packTransposed(MemorySegment w, long wOff, int ldw, int k, int n,
                                      MemorySegment dst, long dstOff, int panelFrom, int panelTo) {
        final int width = panelWidth();
        for (int q = panelFrom; q < panelTo; q++) {
            long panel = dstOff + (long) q * k * width;
            int live = Math.min(width, n - q * width);
            for (int p0 = 0; p0 < k; p0 += TRANSPOSE_TILE) {
                int p1 = Math.min(p0 + TRANSPOSE_TILE, k);
                for (int jj = 0; jj < width; jj++) {
                    if (jj < live) {
                        long row = wOff + (long) (q * width + jj) * ldw;
                        for (int p = p0; p < p1; p++) dst.setAtIndex(FLOAT, panel + (long) p * width + jj, w.getAtIndex(FLOAT, row + p));
                    } else {
                        for (int p = p0; p < p1; p++) dst.setAtIndex(FLOAT, panel + (long) p * width + jj, 0f);
                    }
                }
            }
        }
    }

    /** Floats of scratch {@link #multiplyAdd} needs per thread: one 4-row tile of a panel. */
    public static int scratchSize() {
        return ROWS * panelWidth();
    }

    /**
     * C[m×n] += A[m×k] · B, B packed by {@link #pack} or {@link #packTransposed}, over the columns
     * of panels [panelFrom, panelTo). Offsets in floats; lda, ldc are row strides in floats.
     * {@code scratch} holds {@link #scratchSize()} floats this thread alone may overwrite.
     *
     * <p>A last, partial panel is multiplied into the scratch tile and only its live columns are
     * added to C: the register-block kernels stay free of masks, which C1 cannot fit in registers
     * (it gives up on a masked 4 × 3 block, and an abandoned OSR compile can leave the loop
     * interpreted).
     */
    public static void multiplyAdd(int m, int k, MemorySegment a, long aOff, int lda,
                                   MemorySegment panels, long panelsOff,
                                   MemorySegment c, long cOff, int ldc, int n, int panelFrom, int panelTo,
                                   MemorySegment scratch, long scratchOff) {
        final int width = panelWidth();
        int chunks = (k + MAX_CHUNK - 1) / MAX_CHUNK;
        int chunk = (k + chunks - 1) / chunks; // even chunks: 1500 → 750 + 750, not 1024 + 476
        for (int q = panelFrom; q < panelTo; q++) {
            int col = q * width, live = Math.min(width, n - col);
            long panel = panelsOff + (long) q * k * width;
            for (int p0 = 0; p0 < k; p0 += chunk) {
                int kk = Math.min(chunk, k - p0);
                long bAt = panel + (long) p0 * width;
                int r = 0;
                if (live == width) {
                    for (; r + ROWS <= m; r += ROWS) {
                        block4x3(kk, a, aOff + (long) r * lda + p0, lda, panels, bAt, c, cOff + (long) r * ldc + col, ldc);
                    }
                    for (; r < m; r++) block1x3(kk, a, aOff + (long) r * lda + p0, panels, bAt, c, cOff + (long) r * ldc + col);
                } else {
                    for (; r < m; r += ROWS) {
                        int rows = Math.min(ROWS, m - r);
                        VectorMath.fill(scratch, scratchOff, scratchSize(), 0f);
                        if (rows == ROWS && live <= F.length()) {
                            block4x1(kk, a, aOff + (long) r * lda + p0, lda, panels, bAt, scratch, scratchOff, width);
                        } else if (rows == ROWS) {
                            block4x3(kk, a, aOff + (long) r * lda + p0, lda, panels, bAt, scratch, scratchOff, width);
                        } else {
                            for (int i = 0; i < rows; i++) {
                                block1x3(kk, a, aOff + (long) (r + i) * lda + p0, panels, bAt, scratch, scratchOff + (long) i * width);
                            }
                        }
                        for (int i = 0; i < rows; i++) {
                            long to = cOff + (long) (r + i) * ldc + col, from = scratchOff + (long) i * width;
                            for (int j = 0; j < live; j++) {
                                c.setAtIndex(FLOAT, to + j, c.getAtIndex(FLOAT, to + j) + scratch.getAtIndex(FLOAT, from + j));
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * 4 rows × 3 vectors of C: 12 accumulators. aRow: A's first row at this chunk; bAt: the panel
     * chunk (row stride = panel width); cAt: C's corner.
     */
    private static void block4x3(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bAt,
                                 MemorySegment c, long cAt, int ldc) {
        final int L = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        long bp = 4 * bAt;
        final long rowBytes = 12L * L;
        for (int p = 0; p < k; p++, bp += rowBytes) {
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

    /** One row × 3 vectors, for the rows left over after the groups of 4. */
    private static void block1x3(int k, MemorySegment a, long aRow, MemorySegment b, long bAt, MemorySegment c, long cAt) {
        final int L = F.length();
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0;
        long bp = 4 * bAt;
        final long rowBytes = 12L * L;
        for (int p = 0; p < k; p++, bp += rowBytes) {
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

    /** 4 rows × the first vector of a panel, for a last panel whose live columns fit one vector. */
    private static void block4x1(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bAt,
                                 MemorySegment c, long cAt, int ldc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        long bp = 4 * bAt;
        final long rowBytes = 12L * F.length();
        for (int p = 0; p < k; p++, bp += rowBytes) {
            FloatVector y = FloatVector.fromMemorySegment(F, b, bp, NATIVE);
            c0 = y.fma(FloatVector.broadcast(F, a.getAtIndex(FLOAT, a0 + p)), c0);
            c1 = y.fma(FloatVector.broadcast(F, a.getAtIndex(FLOAT, a1 + p)), c1);
            c2 = y.fma(FloatVector.broadcast(F, a.getAtIndex(FLOAT, a2 + p)), c2);
            c3 = y.fma(FloatVector.broadcast(F, a.getAtIndex(FLOAT, a3 + p)), c3);
        }
        long at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c0).intoMemorySegment(c, at, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c1).intoMemorySegment(c, at, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c2).intoMemorySegment(c, at, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c3).intoMemorySegment(c, at, NATIVE);
    }
}
