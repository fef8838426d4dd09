package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertSameFloats;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.floats;
import static lstmlm.kernels.KernelTestSupport.get;
import static lstmlm.kernels.KernelTestSupport.random;
import static lstmlm.kernels.KernelTestSupport.set;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Gather is a copy and scatterAdd does the same adds in the same order as the reference: exact. */
class EmbeddingTest {
    static final int L = VectorShapes.F.length();

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 37, 200})
    void matchesReference(int dim) {
        int vocab = 11, n = 25, idsOff = 3;
        long tOff = 5, oOff = 2;
        SplittableRandom rnd = new SplittableRandom(dim);
        int[] ids = new int[idsOff + n];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(vocab); // 25 ids over 11 rows: plenty of repeats
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = random(arena, tOff + (long) vocab * dim, rnd, -1f, 1f);
            MemorySegment out = floats(arena, oOff + (long) n * dim + 3), ref = floats(arena, oOff + (long) n * dim + 3);
            Embedding.gather(table, tOff, ids, idsOff, n, dim, out, oOff);
            EmbeddingReference.gather(table, tOff, ids, idsOff, n, dim, ref, oOff);
            assertSameFloats(ref, out, "gather");

            MemorySegment dOut = random(arena, oOff + (long) n * dim, rnd, -1f, 1f);
            MemorySegment dTable = random(arena, tOff + (long) vocab * dim, rnd, -1f, 1f);
            MemorySegment dTableRef = copyOf(arena, dTable);
            Embedding.scatterAdd(dTable, tOff, ids, idsOff, n, dim, dOut, oOff);
            EmbeddingReference.scatterAdd(dTableRef, tOff, ids, idsOff, n, dim, dOut, oOff);
            assertSameFloats(dTableRef, dTable, "scatterAdd");
        }
    }

    /** table[r][j] = 100r + j; ids (2, 0, 2) gather those rows; scatterAdd of rows 1 and 2 into id 1 sums them. */
    @Test
    void handComputed() {
        int dim = 2 * L + 3, vocab = 3;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = floats(arena, (long) vocab * dim);
            for (int r = 0; r < vocab; r++) {
                for (int j = 0; j < dim; j++) {
                    set(table, (long) r * dim + j, 100 * r + j);
                }
            }
            MemorySegment out = floats(arena, 3L * dim);
            Embedding.gather(table, 0, new int[] {2, 0, 2}, 0, 3, dim, out, 0);
            for (int j = 0; j < dim; j++) {
                assertEquals(200f + j, get(out, j));
                assertEquals(j, get(out, dim + j));
                assertEquals(200f + j, get(out, 2L * dim + j));
            }
            MemorySegment dOut = floats(arena, 2L * dim);
            for (int j = 0; j < dim; j++) {
                set(dOut, j, 1f);
                set(dOut, dim + j, j);
            }
            Embedding.scatterAdd(table, 0, new int[] {1, 1}, 0, 2, dim, dOut, 0);
            for (int j = 0; j < dim; j++) {
                assertEquals(0f + j, get(table, j), "row 0 untouched");
                assertEquals(100f + j + 1f + j, get(table, dim + j), "row 1 += 1 + j");
                assertEquals(200f + j, get(table, 2L * dim + j), "row 2 untouched");
            }
        }
    }

    @Test
    void badIdsThrowBeforeWriting() {
        int dim = 7, vocab = 4;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = random(arena, (long) vocab * dim, new SplittableRandom(3), -1f, 1f);
            MemorySegment before = copyOf(arena, table);
            MemorySegment d = floats(arena, 3L * dim);
            set(d, 0, 1f);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Embedding.scatterAdd(table, 0, new int[] {0, 1, vocab}, 0, 3, dim, d, 0));
            assertTrue(e.getMessage().contains("id " + vocab), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> Embedding.scatterAdd(table, 0, new int[] {0, -1, 2}, 0, 3, dim, d, 0));
            assertSameFloats(before, table, "table after rejected scatterAdd");
            assertThrows(IllegalArgumentException.class,
                    () -> Embedding.gather(table, 0, new int[] {vocab}, 0, 1, dim, d, 0));
            // with an offset the table holds one row fewer
            assertThrows(IllegalArgumentException.class,
                    () -> Embedding.gather(table, dim, new int[] {vocab - 1}, 0, 1, dim, d, 0));
            Embedding.gather(table, dim, new int[] {vocab - 2}, 0, 1, dim, d, 0);
            assertThrows(IllegalArgumentException.class,
                    () -> Embedding.gather(table, 0, new int[] {0, 1}, 1, 2, dim, d, 0), "ids too short");
        }
    }
}
