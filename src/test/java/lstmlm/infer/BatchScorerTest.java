package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BatchScorerTest {
    @TempDir
    Path dir;

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void batchScoresMatchTheReferenceWhateverTheBatchSize(boolean tied) {
        Path file = TestModels.write(dir, 70, 23, 2, tied, 14, 0.5f);
        ReferenceLm ref = new ReferenceLm(file);
        SplittableRandom rnd = new SplittableRandom(2);
        int[][] sentences = new int[11][];
        for (int i = 0; i < sentences.length; i++) sentences[i] = rnd.ints(1 + rnd.nextInt(9), 0, 70).toArray();
        for (Model.SoftmaxLayout layout : Model.SoftmaxLayout.values()) {
            try (Model model = Model.load(file, layout)) {
                for (int maxBatch : new int[]{1, 3, 11, 64}) {
                    try (BatchScorer scorer = model.newBatchScorer(maxBatch)) {
                        List<SentenceScore> scores = scorer.scoreIds(sentences);
                        for (int i = 0; i < sentences.length; i++) {
                            assertEquals(ref.score(sentences[i], 1), scores.get(i).logProbability(), 1e-3,
                                    layout + " batch " + maxBatch + " sentence " + i);
                            assertEquals(sentences[i].length + 1, scores.get(i).tokens());
                        }
                    }
                }
            }
        }
    }

    @Test
    void wordsOutsideTheVocabularyCountAsUnk() {
        Path file = TestModels.write(dir, 30, 9, 1, 15, 0.5f);
        try (Model model = Model.load(file); BatchScorer scorer = model.newBatchScorer(8);
             Session s = model.newSession()) {
            List<List<String>> sentences = new ArrayList<>();
            sentences.add(List.of("w3", "qqq", "w5", "rrr"));
            sentences.add(List.of("w7"));
            List<SentenceScore> scores = scorer.score(sentences);
            assertEquals(2, scores.get(0).unknownWords());
            assertEquals(0, scores.get(1).unknownWords());
            assertEquals(s.score(new int[]{3, 0, 5, 0}).logProbability(), scores.get(0).logProbability(), 1e-4);
        }
    }
}
