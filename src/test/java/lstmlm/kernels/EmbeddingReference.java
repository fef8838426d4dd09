package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.get;
import static lstmlm.kernels.VectorShapes.set;

import java.lang.foreign.MemorySegment;

/** Plain scalar version of {@link Embedding}: same signatures, same checks. */
public final class EmbeddingReference {
    private EmbeddingReference() {}

    public static void gather(MemorySegment table, long tableOff, int[] ids, int idsOff, int n, int dim,
                              MemorySegment out, long outOff) {
        Embedding.checkIds(table, tableOff, ids, idsOff, n, dim);
        for (int k = 0; k < n; k++) {
            int id = ids[idsOff + k];
            for (int j = 0; j < dim; j++) {
                set(out, outOff + (long) k * dim + j, get(table, tableOff + (long) id * dim + j));
            }
        }
    }

    public static void scatterAdd(MemorySegment dTable, long dTableOff, int[] ids, int idsOff, int n, int dim,
                                  MemorySegment dOut, long dOutOff) {
        Embedding.checkIds(dTable, dTableOff, ids, idsOff, n, dim);
        for (int k = 0; k < n; k++) {
            int id = ids[idsOff + k];
            for (int j = 0; j < dim; j++) {
                long d = dTableOff + (long) id * dim + j;
                set(dTable, d, get(dTable, d) + get(dOut, dOutOff + (long) k * dim + j));
            }
        }
    }
}
