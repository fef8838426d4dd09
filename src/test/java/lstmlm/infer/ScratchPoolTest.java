package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Closed sessions and scorers give their native memory back, and what the next one takes is as good as new. */
class ScratchPoolTest {
    @TempDir
    Path dir;

    @Test
    void aGivenSlabComesBackZeroedAndTheCapHolds() {
        ScratchPool pool = new ScratchPool(100, 250); // room for two slabs
        MemorySegment a = pool.take(), b = pool.take(), c = pool.take();
        assertEquals(100, a.byteSize());
        assertEquals(0, a.address() % 64, "64-byte aligned");
        a.fill((byte) 7);
        pool.give(a);
        pool.give(b);
        pool.give(c); // over the cap: left to the GC
        assertEquals(2, pool.pooled());
        MemorySegment again = pool.take();
        assertSame(b, again, "last in, first out");
        MemorySegment dirty = pool.take();
        assertSame(a, dirty);
        for (long i = 0; i < 100; i++) assertEquals(0, dirty.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i), "byte " + i);
        assertEquals(0, pool.pooled());
        assertThrows(IllegalArgumentException.class, () -> pool.give(MemorySegment.ofArray(new byte[99])));
    }

    @Test
    void theCutterAlignsEveryPieceAndMeasuresWhatItCuts() {
        ScratchPool.Cutter measure = new ScratchPool.Cutter(null);
        measure.next(4);
        measure.next(65);
        measure.next(64);
        assertEquals(64 + 128 + 64, measure.size());
        ScratchPool pool = new ScratchPool(measure.size(), 1 << 20);
        MemorySegment slab = pool.take();
        ScratchPool.Cutter cut = new ScratchPool.Cutter(slab);
        List<MemorySegment> pieces = List.of(cut.next(4), cut.next(65), cut.next(64));
        long[] offsets = {0, 64, 192};
        for (int i = 0; i < 3; i++) {
            assertEquals(slab.address() + offsets[i], pieces.get(i).address());
        }
        assertEquals(65, pieces.get(1).byteSize());
    }

    @Test
    void aSessionOpenedAfterAnotherClosedReusesItsMemoryAndStartsFromZero() {
        Path file = TestModels.write(dir, 53, 21, 2, 4, 0.3f);
        int[] words = {3, 17, 4, 52, 0, 9};
        try (Model model = Model.load(file)) {
            double[] first = new double[words.length];
            Session s = model.newSession();
            for (int i = 0; i < words.length; i++) {
                s.feed(words[i]);
                first[i] = s.logProbability(11);
            }
            assertEquals(0, model.sessionScratch.pooled());
            s.close();
            s.close(); // idempotent: given back once
            assertEquals(1, model.sessionScratch.pooled());
            assertThrows(IllegalStateException.class, () -> s.feed(1));
            try (Session reused = model.newSession()) {
                assertEquals(0, model.sessionScratch.pooled(), "the new session took the closed one's slab");
                for (int i = 0; i < words.length; i++) {
                    reused.feed(words[i]);
                    assertEquals(first[i], reused.logProbability(11), "step " + i + ": bit for bit");
                }
                try (Session fork = reused.copy()) {
                    fork.feed(5);
                    reused.feed(5);
                    assertEquals(reused.logProbability(8), fork.logProbability(8));
                }
                assertEquals(1, model.sessionScratch.pooled(), "the fork gave its slab back");
            }
            try (BatchScorer a = model.newBatchScorer(4)) {
                a.score(List.of(List.of("w1", "w2"), List.of("w3")));
            }
            assertEquals(1, model.scorerScratch(4).pooled());
            try (BatchScorer b = model.newBatchScorer(4)) {
                assertEquals(0, model.scorerScratch(4).pooled());
                assertEquals(List.of(b.score(List.of(List.of("w1", "w2"))).getFirst()),
                        model.newBatchScorer(4).score(List.of(List.of("w1", "w2"))));
            }
            assertTrue(model.scorerScratch(4).pooled() >= 1);
        }
    }
}
