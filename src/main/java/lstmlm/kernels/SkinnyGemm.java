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
 * rows of A passes over them (docs/performance.md has the measurements).
 *
 * <p>With AVX-512 (32 vector registers) the 4 × 3 register block does 12 FMAs per 3 vector loads
 * and 4 broadcasts. Why not larger: a 5 × 4 block is as fast once C2 has it, but C1 gives up on it
 * ("out of virtual registers"), and when that first attempt is an on-stack replacement the method
 * can stay interpreted for the rest of the run. 4 × 3 compiles at every tier. With AVX2 there are
 * 16 registers, and 12 accumulators + 3 loads + a broadcast do not fit C2's allocation: the 4 × 2
 * block is much faster there (docs/performance.md). So the block is 4 × {@link #VECTORS}: 3
 * vectors wide with 16 lanes, 2 with 8.
 * Each element of C sums the same products in the same order either way, so the width changes
 * no bit of the result.
 *
 * <p>Every element of C is summed by one thread in a fixed order (k-chunks in order, each added to
 * C), so the result does not depend on how the panels are split.
 */
public final class SkinnyGemm {
    private SkinnyGemm() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final int ROWS = 4;
    /** Vectors per block row: 3 with 16 lanes (AVX-512, 32 registers), 2 with fewer (AVX2, 16 registers). */
    static final int VECTORS = F.length() >= 16 ? 3 : 2;
    /** Longest k-chunk: 1024 rows × 48 floats = 192 KB of panel, plus 80 KB of A, well inside L2. */
    static final int MAX_CHUNK = 1024;

    /** Columns per panel: {@link #VECTORS} vectors (48 with AVX-512, 16 with AVX2). */
    public static int panelWidth() {
        return panelWidth(VECTORS);
    }

    static int panelWidth(int vectors) {
        if (vectors != 2 && vectors != 3) throw new IllegalArgumentException("vectors must be 2 or 3, got " + vectors);
        return vectors * F.length();
    }

    public static int panelCount(int n) {
        return panelCount(n, VECTORS);
    }

    static int panelCount(int n, int vectors) {
        return (n + panelWidth(vectors) - 1) / panelWidth(vectors);
    }

    /** Floats needed to hold B[k×n] as panels. */
    public static long packedSize(int k, int n) {
        return packedSize(k, n, VECTORS);
    }

    static long packedSize(int k, int n, int vectors) {
        return (long) panelCount(n, vectors) * k * panelWidth(vectors);
    }

    /** Panels [panelFrom, panelTo) of B[k×n] (row-major, row stride ldb) into dst, zero-padded past n. */
    public static void pack(MemorySegment b, long bOff, int ldb, int k, int n,
                            MemorySegment dst, long dstOff, int panelFrom, int panelTo) {
        pack(b, bOff, ldb, k, n, dst, dstOff, panelFrom, panelTo, VECTORS);
    }

    /** {@link #pack} into panels of {@code vectors} vectors (the tests run both widths on any CPU). */
    static void pack(MemorySegment b, long bOff, int ldb, int k, int n,
                     MemorySegment dst, long dstOff, int panelFrom, int panelTo, int vectors) {
        final int L = F.length(), width = panelWidth(vectors);
        for (int q = panelFrom; q < panelTo; q++) {
            int col = q * width, live = Math.min(width, n - col);
            long out = dstOff + (long) q * k * width, in = bOff + col;
            if (live == width) {
                for (int p = 0; p < k; p++, out += width, in += ldb) {
                    for (int v = 0; v < width; v += L) {
                        FloatVector.fromMemorySegment(F, b, 4 * (in + v), NATIVE).intoMemorySegment(dst, 4 * (out + v), NATIVE);
                    }
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
        packTransposed(w, wOff, ldw, k, n, dst, dstOff, panelFrom, panelTo, VECTORS);
    }

    static void packTransposed(MemorySegment w, long wOff, int ldw, int k, int n,
                               MemorySegment dst, long dstOff, int panelFrom, int panelTo, int vectors) {
        final int width = panelWidth(vectors);
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

    /** Floats of scratch {@link #multiplyAdd} needs per thread: one 4-row tile of the widest panel. */
    public static int scratchSize() {
        return ROWS * panelWidth(3);
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
        multiplyAdd(m, k, a, aOff, lda, panels, panelsOff, c, cOff, ldc, n, panelFrom, panelTo, scratch, scratchOff, VECTORS);
    }

    /** {@link #multiplyAdd} over panels of {@code vectors} vectors, as packed with the same count. */
    static void multiplyAdd(int m, int k, MemorySegment a, long aOff, int lda,
                            MemorySegment panels, long panelsOff,
                            MemorySegment c, long cOff, int ldc, int n, int panelFrom, int panelTo,
                            MemorySegment scratch, long scratchOff, int vectors) {
        final int width = panelWidth(vectors);
        final boolean three = vectors == 3;
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
                        long aAt = aOff + (long) r * lda + p0, cAt = cOff + (long) r * ldc + col;
                        if (three) block4x3(kk, a, aAt, lda, panels, bAt, c, cAt, ldc);
                        else block4x2(kk, a, aAt, lda, panels, bAt, width, c, cAt, ldc);
                    }
                    for (; r < m; r++) {
                        long aAt = aOff + (long) r * lda + p0, cAt = cOff + (long) r * ldc + col;
                        if (three) block1x3(kk, a, aAt, panels, bAt, c, cAt);
                        else block1x2(kk, a, aAt, panels, bAt, width, c, cAt);
                    }
                } else {
                    for (; r < m; r += ROWS) {
                        int rows = Math.min(ROWS, m - r);
                        VectorMath.fill(scratch, scratchOff, (long) ROWS * width, 0f);
                        long aAt = aOff + (long) r * lda + p0;
                        if (rows == ROWS && live <= F.length()) {
                            block4x1(kk, a, aAt, lda, panels, bAt, width, scratch, scratchOff, width);
                        } else if (rows == ROWS) {
                            if (three) block4x3(kk, a, aAt, lda, panels, bAt, scratch, scratchOff, width);
                            else block4x2(kk, a, aAt, lda, panels, bAt, width, scratch, scratchOff, width);
                        } else {
                            for (int i = 0; i < rows; i++) {
                                long at = scratchOff + (long) i * width;
                                if (three) block1x3(kk, a, aAt + (long) i * lda, panels, bAt, scratch, at);
                                else block1x2(kk, a, aAt + (long) i * lda, panels, bAt, width, scratch, at);
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

    /**
     * 4 rows × 2 vectors of C: 8 accumulators, for 16-register CPUs (AVX2). {@code width} is the
     * panel's (2 vectors), passed in rather than written as the constant it is: with a constant
     * stride C2 unrolls the k loop into a slower body (docs/performance.md).
     */
    private static void block4x2(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bAt, int width,
                                 MemorySegment c, long cAt, int ldc) {
        final int L = F.length();
        FloatVector c00 = FloatVector.zero(F), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        long bp = 4 * bAt;
        final long rowBytes = 4L * width;
        for (int p = 0; p < k; p++, bp += rowBytes) {
            FloatVector b0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE);
            FloatVector b1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE);
            FloatVector x0 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a0 + p));
            c00 = b0.fma(x0, c00); c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a1 + p));
            c10 = b0.fma(x1, c10); c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a2 + p));
            c20 = b0.fma(x2, c20); c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(F, a.getAtIndex(FLOAT, a3 + p));
            c30 = b0.fma(x3, c30); c31 = b1.fma(x3, c31);
        }
        final long v = 4L * L;
        long at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c00).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c01).intoMemorySegment(c, at + v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c10).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c11).intoMemorySegment(c, at + v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c20).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c21).intoMemorySegment(c, at + v, NATIVE);
        at += 4L * ldc;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c30).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c31).intoMemorySegment(c, at + v, NATIVE);
    }

    /** One row × 2 vectors, for the rows left over after the groups of 4; the stride a parameter as in {@link #block4x2}. */
    private static void block1x2(int k, MemorySegment a, long aRow, MemorySegment b, long bAt, int width, MemorySegment c, long cAt) {
        final int L = F.length();
        FloatVector c0 = FloatVector.zero(F), c1 = c0;
        long bp = 4 * bAt;
        final long rowBytes = 4L * width;
        for (int p = 0; p < k; p++, bp += rowBytes) {
            FloatVector x = FloatVector.broadcast(F, a.getAtIndex(FLOAT, aRow + p));
            c0 = FloatVector.fromMemorySegment(F, b, bp, NATIVE).fma(x, c0);
            c1 = FloatVector.fromMemorySegment(F, b, bp + 4L * L, NATIVE).fma(x, c1);
        }
        final long v = 4L * L, at = 4 * cAt;
        FloatVector.fromMemorySegment(F, c, at, NATIVE).add(c0).intoMemorySegment(c, at, NATIVE);
        FloatVector.fromMemorySegment(F, c, at + v, NATIVE).add(c1).intoMemorySegment(c, at + v, NATIVE);
    }

    /** 4 rows × the first vector of a panel {@code width} floats wide, for a last panel whose live columns fit one vector. */
    private static void block4x1(int k, MemorySegment a, long aRow, int lda, MemorySegment b, long bAt, int width,
                                 MemorySegment c, long cAt, int ldc) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        final long a0 = aRow, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        long bp = 4 * bAt;
        final long rowBytes = 4L * width;
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
