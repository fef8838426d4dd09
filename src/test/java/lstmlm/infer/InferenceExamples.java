package lstmlm.infer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The code docs/inference.md shows, compiled and run by {@link InferenceExamplesTest}: the text
 * between each pair of tag comments is the doc's code block, character for character.
 */
final class InferenceExamples {
    private InferenceExamples() {}

    // tag::decoder[]
    /** A toy decoder: a beam of 16 over frames of made-up acoustic log-scores, one per vocabulary word. */
    static int[] decode(Model model, float[][] acoustic, float lmWeight) {
        int beam = 16;
        StepBatch lm = model.newStepBatch(beam);
        lm.start(1);
        lm.step(new int[]{model.vocabulary().eosId()});     // sentences follow <eos>
        double[] score = new double[beam], nextScore = new double[beam];
        int[][] words = {new int[0]}, nextWords = new int[beam][];
        int[] from = new int[beam], fed = new int[beam];
        TopK shortlist = new TopK(beam);
        int live = 1;
        for (float[] frame : acoustic) {
            List<double[]> offers = new ArrayList<>();          // {score, row, word}
            for (int r = 0; r < live; r++) {
                lm.topK(r, shortlist);                          // each hypothesis offers the LM's 16 best words
                for (int k = 0; k < shortlist.size(); k++) {
                    int w = shortlist.id(k);
                    offers.add(new double[]{score[r] + lmWeight * lm.logProbability(r, w) + frame[w], r, w});
                }
            }
            offers.sort((a, b) -> Double.compare(b[0], a[0]));
            live = Math.min(beam, offers.size());
            nextWords = new int[beam][];
            for (int i = 0; i < live; i++) {
                double[] o = offers.get(i);
                from[i] = (int) o[1];
                fed[i] = (int) o[2];
                nextScore[i] = o[0];
                nextWords[i] = Arrays.copyOf(words[from[i]], words[from[i]].length + 1);
                nextWords[i][nextWords[i].length - 1] = fed[i];
            }
            lm.select(from, live);                              // the survivors' states, forked where one had several
            lm.step(fed);                                       // one batched step for the whole beam
            double[] s = score;
            score = nextScore;
            nextScore = s;
            words = nextWords;
        }
        return words[0];                                        // the best: the offers were sorted
    }
    // end::decoder[]

    // tag::service[]
    /** Many users, a thread each, their sessions' steps batched by one DynamicBatcher: each text's perplexity. */
    static double[] perplexities(Model model, List<List<String>> texts) {
        double[] perplexity = new double[texts.size()];
        try (DynamicBatcher batcher = new DynamicBatcher(model, 64, 200);   // at most 64 rows, 200 us wait
             ExecutorService users = Executors.newFixedThreadPool(texts.size())) {
            for (int u = 0; u < texts.size(); u++) {
                int user = u;
                users.submit(() -> {
                    try (Session s = batcher.newSession()) {   // an ordinary Session: feed, topK, sample, score...
                        perplexity[user] = s.score(texts.get(user)).perplexity();
                    }
                });
            }
        }   // closing the pool waits for the users; closing the batcher then stops its worker
        return perplexity;
    }
    // end::service[]
}
