package lstmlm.kernels;

import static lstmlm.kernels.VectorShapes.bytes;

import java.lang.foreign.MemorySegment;

/**
 * Embedding lookup and its gradient. table/dTable: [rows x dim] starting at the given offset;
 * out/dOut: [n x dim]. The number of table rows is not passed, so ids are checked against what the
 * segment holds past the offset: (byteSize/4 - off) / dim.
 */
public final class Embedding {
    private Embedding() {}

    /** out row k = table row ids[idsOff + k], for k in [0, n). */
    public static void gather(MemorySegment table, long tableOff, int[] ids, int idsOff, int n, int dim,
                              MemorySegment out, long outOff) {
        checkIds(table, tableOff, ids, idsOff, n, dim);
        final long rowBytes = bytes(dim);
        for (int k = 0; k < n; k++) {
            int id = ids[idsOff + k];
            // a row is a contiguous memcpy; MemorySegment.copy allocates nothing
            MemorySegment.copy(table, bytes(tableOff + (long) id * dim), out, bytes(outOff + (long) k * dim), rowBytes);
        }
    }

    /** dTable row ids[idsOff + k] += dOut row k, for k in [0, n); repeated ids accumulate. */
    public static void scatterAdd(MemorySegment dTable, long dTableOff, int[] ids, int idsOff, int n, int dim,
                                  MemorySegment dOut, long dOutOff) {
        checkIds(dTable, dTableOff, ids, idsOff, n, dim);
        for (int k = 0; k < n; k++) {
            VectorMath.add(dTable, dTableOff + (long) ids[idsOff + k] * dim, dOut, dOutOff + (long) k * dim, dim);
        }
    }

    /**
     * Validates shapes and every id before anything is written, so a bad id leaves dTable untouched.
     * The row count comes from the segment: (byteSize/4 - off) / dim.
     */
    static void checkIds(MemorySegment table, long tableOff, int[] ids, int idsOff, int n, int dim) {
        if (n < 0 || dim <= 0) {
            throw new IllegalArgumentException("need n >= 0 and dim > 0, got n=" + n + " dim=" + dim);
        }
        if (idsOff < 0 || (long) idsOff + n > ids.length) {
            throw new IllegalArgumentException("ids[" + idsOff + ", " + ((long) idsOff + n)
                    + ") is out of bounds for length " + ids.length);
        }
        long floats = table.byteSize() / Float.BYTES - tableOff;
        long rows = floats <= 0 ? 0 : floats / dim;
        for (int k = 0; k < n; k++) {
            int id = ids[idsOff + k];
            if (id < 0 || id >= rows) {
                throw new IllegalArgumentException("embedding id " + id + " at ids[" + (idsOff + k)
                        + "] is outside the table's " + rows + " rows");
            }
        }
    }
}
