package lstmlm.infer;

import lstmlm.data.Corpus;
import lstmlm.model.Engine;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;
import lstmlm.train.Evaluation;
import lstmlm.train.TinyRun;
import lstmlm.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The embedded API computes what training evaluates: a {@link Session} fed a split as one stream
 * gives {@code lstm eval}'s perplexity (the engine at batch 1, 1 step), and the {@link BatchScorer}
 * gives each sentence the session's score. The two paths share the cell, exp and softmax code and
 * differ only in the products' summation order (one-row FMA chains against OpenBLAS), so they agree
 * to float rounding, averaged over many tokens.
 */
class InferenceMatchesTrainingTest {
    @TempDir
    static Path dir;

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(lstmlm.modelfile.WeightFormat.class)
    void aTrainedModelScoresTheSameThroughEveryPath(lstmlm.modelfile.WeightFormat format) throws Exception {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        crossCheck(trained(corpus, java.util.Map.of(), "trained", format), corpus.test(), true);
    }

    /**
     * An adaptive softmax (two clusters behind projections) through the session, the batch scorer and
     * {@code lstm eval}'s engine, in each format (bf16 and int8 quantize the head and cluster weights; the
     * output layer runs from their widened values): training's loss is the head's and the cluster's
     * cross-entropy, the session's the log-softmax of the row its step writes; the same distribution.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(lstmlm.modelfile.WeightFormat.class)
    void anAdaptiveSoftmaxModelScoresTheSameThroughEveryPath(lstmlm.modelfile.WeightFormat format) throws Exception {
        Corpus corpus = Corpus.load(TinyRun.corpus(dir));
        Path file = trained(corpus, java.util.Map.of("softmax", "adaptive", "adaptive_cutoffs", "8,20", "adaptive_div", "2"),
                "trained-adaptive", format);
        if (format != lstmlm.modelfile.WeightFormat.FP32) {
            try (lstmlm.modelfile.ModelFile f = lstmlm.modelfile.ModelFile.open(file)) {
                assertEquals(format.matrixType, f.safetensors().tensor("softmax.tail.1.weight").dtype(), "the clusters are quantized too");
            }
        }
        crossCheck(file, corpus.test(), true);
        try (Model model = Model.load(file); Session s = model.newSession()) {
            s.feed(model.eosId);
            float[] p = s.probabilities();
            double sum = 0;
            for (float x : p) sum += x;
            assertEquals(1, sum, 1e-5, "the row's softmax is a distribution over every word");
        }
    }

    /** Two epochs of a 2 x 48 model on the tiny corpus with these keys, saved, then quantized to {@code format}. */
    private static Path trained(Corpus corpus, java.util.Map<String, String> keys, String name,
                                lstmlm.modelfile.WeightFormat format) throws Exception {
        var values = new java.util.HashMap<>(TinyRun.configValues());
        values.put("vocab_size", Integer.toString(corpus.vocabulary().size()));
        values.put("hidden_size", "48");
        values.put("max_max_epoch", "2");
        values.putAll(keys);
        Path file;
        try (Trainer t = new Trainer(TinyRun.config().withOverrides(values), corpus, 3, 2)) {
            t.run(2);
            file = t.save(dir.resolve(name + "-" + format.key()));
        }
        if (format == lstmlm.modelfile.WeightFormat.FP32) return file;
        Path compact = dir.resolve(name + "-" + format.key() + ".safetensors");
        try (lstmlm.modelfile.ModelFile in = lstmlm.modelfile.ModelFile.open(file)) {
            lstmlm.modelfile.Quantizer.write(in, compact, format);
        }
        return compact;
    }

    /**
     * The same on a real model and PTB's test split: set PTB_DIR and LSTM_CROSSCHECK_MODEL (a model
     * trained on PTB) to run it; it prints both perplexities.
     */
    @Test
    void aRealModelOnPtbWhenGiven() {
        String ptb = System.getenv("PTB_DIR"), model = System.getenv("LSTM_CROSSCHECK_MODEL");
        assumeTrue(ptb != null && !ptb.isBlank() && model != null && !model.isBlank(),
                "PTB_DIR and LSTM_CROSSCHECK_MODEL not both set");
        int[] test;
        try (Checkpoint c = Checkpoint.load(Path.of(model))) {
            test = Corpus.readIds(Path.of(ptb).resolve("ptb.test.txt"), c.vocabulary());
        }
        crossCheck(Path.of(model), test, false);
    }

    private static void crossCheck(Path file, int[] ids, boolean sentences) {
        double eval;
        try (Checkpoint c = Checkpoint.load(file);
             Engine engine = new Engine(c.weights().shape(), 2)) {
            c.copyWeightsInto(engine.model());
            eval = Evaluation.perplexity(engine, engine.newWindow(1, 1, lstmlm.model.DropoutPlan.NONE), ids);
        }
        try (Model model = Model.load(file); Session session = model.newSession()) {
            long t0 = System.nanoTime();
            SentenceScore stream = scoreStream(session, ids);
            double seconds = (System.nanoTime() - t0) / 1e9;
            double relative = Math.abs(stream.perplexity() - eval) / eval;
            System.out.printf(Locale.ROOT, "%s: eval perplexity %.9f, session stream %.9f, relative difference %.2e"
                    + " (%d tokens, session %.1f s)%n", file.getFileName(), eval, stream.perplexity(), relative,
                    stream.tokens(), seconds);
            assertTrue(relative <= 1e-6, "eval " + eval + " vs session " + stream.perplexity());

            if (!sentences) return;
            List<int[]> lines = splitAtEos(ids, model.eosId);
            try (BatchScorer scorer = model.newBatchScorer(16)) {
                List<SentenceScore> batched = scorer.scoreIds(lines.toArray(int[][]::new));
                double worst = 0;
                for (int i = 0; i < lines.size(); i++) {
                    SentenceScore one = session.score(lines.get(i));
                    assertEquals(one.tokens(), batched.get(i).tokens());
                    double diff = Math.abs(one.logProbability() - batched.get(i).logProbability());
                    worst = Math.max(worst, diff / one.tokens());
                    // float32 products of 2H terms in two summation orders: ~1e-6 per token's log-probability
                    assertEquals(one.logProbability(), batched.get(i).logProbability(), 1e-5 * one.tokens(), "sentence " + i);
                }
                System.out.printf(Locale.ROOT, "batch scorer vs session: %d sentences, largest difference %.2e nats per token%n",
                        lines.size(), worst);
            }
        }
    }

    /**
     * A running text the way training evaluates a split ({@code lstm eval}, TensorFlow's
     * {@code run_epoch} at batch 1): from a fresh state feeds ids[0..n-2] one after another, the state
     * carried throughout, and adds log P(ids[t+1]) after each: n − 1 predictions.
     */
    static SentenceScore scoreStream(Session session, int[] ids) {
        session.reset();
        double sum = 0;
        for (int t = 0; t + 1 < ids.length; t++) {
            session.feed(ids[t]);
            sum += session.logProbability(ids[t + 1]);
        }
        return new SentenceScore(sum, ids.length - 1, 0);
    }

    /** The sentences of a stream that ends each with <eos>, without it. */
    static List<int[]> splitAtEos(int[] ids, int eos) {
        List<int[]> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == eos) {
                if (i > start) out.add(Arrays.copyOfRange(ids, start, i));
                start = i + 1;
            }
        }
        return out;
    }
}
