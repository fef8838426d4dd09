package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/**
 * dst[cols × rows] = srcᵀ for src[rows × cols], row-major, rows [rowFrom, rowTo) of src so threads
 * can split the work. Tiles of 32 × 32 keep both the reads and the writes within a few cache lines.
 */
public final class Transpose {
    private Transpose() {}

    private static final int TILE = 32;

    public static void copy(MemorySegment src, long srcOff, int rows, int cols, MemorySegment dst, long dstOff,
                            int rowFrom, int rowTo) {
        if (rowFrom < 0 || rowTo > rows || rowFrom > rowTo) {
            throw new IllegalArgumentException("rows [" + rowFrom + ", " + rowTo + ") outside [0, " + rows + ")");
        }
        for (int i0 = rowFrom; i0 < rowTo; i0 += TILE) {
            int i1 = Math.min(i0 + TILE, rowTo);
            for (int j0 = 0; j0 < cols; j0 += TILE) {
                int j1 = Math.min(j0 + TILE, cols);
                for (int i = i0; i < i1; i++) {
                    for (int j = j0; j < j1; j++) {
                        set(dst, dstOff + (long) j * rows + i, get(src, srcOff + (long) i * cols + j));
                    }
                }
            }
        }
    }
}
