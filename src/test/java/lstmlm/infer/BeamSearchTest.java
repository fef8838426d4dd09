package lstmlm.infer;

import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BeamSearch} against greedy decoding on a {@link Session} and against rescoring its
 * hypotheses word by word: width 1 is greedy token for token, a wider beam finds continuations at
 * least as likely as greedy's, and every hypothesis's log-probability is what a session fed its
 * words gives (so select/fork kept each state).
 */
class BeamSearchTest {
    private static final int EOS = 1; // TestModels' vocabulary: <unk>, <eos>, w2, ...

    @TempDir
    Path dir;

    /** Greedy decoding on a session: argmax, fed back, up to maxWords or the first <eos> when endAtEos. */
    private static List<Integer> greedy(Model model, int[] prompt, int maxWords, boolean endAtEos, double[] logProbability) {
        List<Integer> out = new ArrayList<>();
        try (Session s = model.newSession()) {
            for (int id : prompt) s.feed(id);
            double sum = 0;
            for (int i = 0; i < maxWords; i++) {
                int next = s.argmax();
                sum += s.logProbability(next);
                out.add(next);
                if (endAtEos && next == EOS) break;
                s.feed(next);
            }
            logProbability[0] = sum;
        }
        return out;
    }

    /** The summed log-probability of {@code words} after {@code prompt}, by a session. */
    private static double rescore(Model model, int[] prompt, int[] words) {
        try (Session s = model.newSession()) {
            for (int id : prompt) s.feed(id);
            double sum = 0;
            for (int id : words) {
                sum += s.logProbability(id);
                s.feed(id);
            }
            return sum;
        }
    }

    private static int[] prompt(SplittableRandom random, int vocab) {
        int[] p = new int[1 + random.nextInt(4)];
        p[0] = EOS;
        for (int i = 1; i < p.length; i++) p[i] = 2 + random.nextInt(vocab - 2);
        return p;
    }

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void widthOneIsGreedyTokenForToken(WeightFormat format) {
        int vocab = 40;
        Path file = TestModels.write(dir, vocab, 16, 2, false, 23, 1.5f, format);
        SplittableRandom random = new SplittableRandom(8);
        try (Model model = Model.load(file)) {
            BeamSearch beam = new BeamSearch(model, 1);
            for (int trial = 0; trial < 20; trial++) {
                int[] prompt = prompt(random, vocab);
                boolean endAtEos = trial % 2 == 0;
                double[] greedyLp = new double[1];
                List<Integer> expected = greedy(model, prompt, 15, endAtEos, greedyLp);
                List<BeamSearch.Hypothesis> found = beam.search(prompt, new BeamSearch.Options(15, endAtEos, false));
                assertEquals(1, found.size());
                int[] got = found.getFirst().ids();
                assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), got, "trial " + trial);
                assertEquals(greedyLp[0], found.getFirst().logProbability(), 1e-9, "trial " + trial);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void widthEightBeatsOrTiesGreedyAndEveryHypothesisRescoresExactly(WeightFormat format) {
        int vocab = 60, length = 12;
        Path file = TestModels.write(dir, vocab, 20, 2, false, 29, 1.5f, format);
        SplittableRandom random = new SplittableRandom(11);
        try (Model model = Model.load(file)) {
            BeamSearch beam = new BeamSearch(model, 8);
            int atLeastGreedy = 0, strictlyBetter = 0;
            for (int trial = 0; trial < 20; trial++) {
                int[] prompt = prompt(random, vocab);
                double[] greedyLp = new double[1];
                greedy(model, prompt, length, false, greedyLp);
                List<BeamSearch.Hypothesis> found = beam.search(prompt, new BeamSearch.Options(length, false, false));
                assertEquals(8, found.size());
                for (int i = 0; i < found.size(); i++) {
                    BeamSearch.Hypothesis h = found.get(i);
                    assertEquals(length, h.ids().length);
                    assertFalse(h.ended());
                    // each hypothesis's state was kept through the selections: a session fed its words agrees
                    assertEquals(rescore(model, prompt, h.ids()), h.logProbability(), 2e-4, "trial " + trial + " hypothesis " + i);
                    if (i > 0) assertTrue(found.get(i - 1).logProbability() >= h.logProbability(), "best first");
                }
                double best = found.getFirst().logProbability();
                if (best >= greedyLp[0] - 1e-4) atLeastGreedy++;
                if (best > greedyLp[0] + 1e-3) strictlyBetter++;
            }
            assertTrue(atLeastGreedy >= 18, format + ": beam of 8 at least greedy's log-probability on " + atLeastGreedy + " of 20 prompts");
            assertTrue(strictlyBetter > 0, format + ": the beam never found anything better than greedy: a search that does nothing");
        }
    }

    @Test
    void eosEndsAHypothesisAndLengthNormalisationRanksPerWord() {
        int vocab = 12;
        Path file = TestModels.writeFavouring(dir, vocab, 8, 1, 5, 2f, EOS, 1.5f); // <eos> comes up often, not always
        SplittableRandom random = new SplittableRandom(3);
        try (Model model = Model.load(file)) {
            BeamSearch beam = new BeamSearch(model, 4);
            int endedSeen = 0, liveSeen = 0;
            for (int trial = 0; trial < 10; trial++) {
                int[] prompt = prompt(random, vocab);
                for (boolean normalized : new boolean[]{false, true}) {
                    List<BeamSearch.Hypothesis> found = beam.search(prompt, new BeamSearch.Options(1 + trial % 6, true, normalized));
                    for (int i = 0; i < found.size(); i++) {
                        BeamSearch.Hypothesis h = found.get(i);
                        int[] ids = h.ids();
                        for (int j = 0; j < ids.length - 1; j++) assertTrue(ids[j] != EOS, "<eos> inside a hypothesis");
                        assertEquals(h.ended(), ids[ids.length - 1] == EOS);
                        if (h.ended()) endedSeen++;
                        else liveSeen++;
                        assertEquals(rescore(model, prompt, ids), h.logProbability(), 1e-4);
                        if (i > 0) assertTrue(found.get(i - 1).score(normalized) >= h.score(normalized));
                    }
                }
            }
            assertTrue(endedSeen > 0, "no hypothesis ever ended: the test model never offers <eos>");
            assertTrue(liveSeen > 0, "every hypothesis ended: the word limit was never reached");
        }
    }

    @Test
    void aBeamOfBatcherSessionsFindsWhatTheStepBatchFinds() {
        int vocab = 50;
        Path file = TestModels.write(dir, vocab, 16, 2, false, 37, 1.5f, WeightFormat.FP32);
        SplittableRandom random = new SplittableRandom(12);
        try (Model model = Model.load(file); DynamicBatcher batcher = new DynamicBatcher(model, 8, 100)) {
            for (int width : new int[]{1, 3, lstmlm.model.LayerSequence.FEW_ROWS}) {
                BeamSearch onRows = new BeamSearch(model, width);
                for (int trial = 0; trial < 6; trial++) {
                    int[] prompt = prompt(random, vocab);
                    BeamSearch.Options options = new BeamSearch.Options(10, trial % 2 == 0, trial % 3 == 0);
                    List<BeamSearch.Hypothesis> expected = onRows.search(prompt, options);
                    List<BeamSearch.Hypothesis> got = BeamSearch.search(batcher, width, prompt, options);
                    assertEquals(expected.size(), got.size());
                    // up to FEW_ROWS fp32 rows, batched or not, give the one-row kernel's bits: the same search
                    for (int i = 0; i < expected.size(); i++) {
                        assertArrayEquals(expected.get(i).ids(), got.get(i).ids(), "width " + width + " trial " + trial + " rank " + i);
                        assertEquals(expected.get(i).logProbability(), got.get(i).logProbability(), 0.0);
                        assertEquals(expected.get(i).ended(), got.get(i).ended());
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreClearErrors() {
        Path file = TestModels.write(dir, 10, 4, 1, 3, 0.5f);
        try (Model model = Model.load(file)) {
            assertThrows(IllegalArgumentException.class, () -> new BeamSearch(model, 0));
            assertThrows(IllegalArgumentException.class, () -> new BeamSearch.Options(0, true, true));
            assertThrows(IllegalArgumentException.class, () -> new BeamSearch(model, 2).search(new int[0], new BeamSearch.Options(3, true, true)));
        }
    }
}
