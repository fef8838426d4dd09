package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain triple loop for {@link SkinnyGemm}: same signature, same semantics. */
public final class SkinnyGemmReference {
    private SkinnyGemmReference() {}

    public static void multiplyAdd(int m, int k, MemorySegment a, long aOff, int lda,
                                   MemorySegment b, long bOff, int ldb,
                                   MemorySegment c, long cOff, int ldc, int colFrom, int colTo) {
        for (int r = 0; r < m; r++) {
            for (int j = colFrom; j < colTo; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) get(a, aOff + (long) r * lda + p) * get(b, bOff + (long) p * ldb + j);
                long at = cOff + (long) r * ldc + j;
                set(c, at, (float) (get(c, at) + s));
            }
        }
    }
}
