package lstmlm.model;

import java.nio.file.Path;
import java.util.BitSet;

import lstmlm.data.BatchProducer;
import lstmlm.data.Corpus;
import lstmlm.kernels.Dropout;
import lstmlm.kernels.VectorMath;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;

/**
 * Measures how much the global gradient norm depends on how the embedding's share is counted.
 * TensorFlow's {@code clip_by_global_norm} takes the embedding gradient as the IndexedSlices that
 * {@code embedding_lookup} produces, one row per token of the window, and sums their squares:
 * Σ_tokens ‖g_r‖². This engine sums the squares of the rows after the scatter-add, one per distinct
 * word: Σ_words ‖Σ_{r: word} g_r‖². The two differ by the cross terms of repeated words. The probe
 * trains windows with {@link Engine#trainWindow}, records both norms before each update,
 * and prints how often and how hard each would clip.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes:$(cat cp.txt) \
 *     lstmlm.model.ClipNormProbe (CHECKPOINT | CONFIG:SEED) PTB_DIR WINDOWS [THREADS]
 * </pre>
 * A checkpoint continues from its exact position; {@code medium:1} starts the run {@code --config
 * medium --seed 1} makes, from its first window.
 */
public final class ClipNormProbe {
    private ClipNormProbe() {}

    public static void main(String[] args) throws Exception {
        String from = args[0];
        Corpus corpus = Corpus.load(Path.of(args[1]));
        int windows = Integer.parseInt(args[2]);
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2;

        Config config;
        long seed, globalStep;
        int epoch, step;
        float[] state = null;
        Checkpoint ckpt = null;
        if (from.contains(":") && !from.endsWith(".safetensors")) {
            String[] cs = from.split(":");
            config = Config.load(cs[0], java.util.Map.of());
            seed = Long.parseLong(cs[1]);
            globalStep = 0;
            epoch = 0;
            step = 0;
        } else {
            ckpt = Checkpoint.load(Path.of(from));
            Checkpoint.Progress p = ckpt.progress();
            config = ckpt.config();
            seed = p.seed();
            globalStep = p.globalStep();
            epoch = p.epoch();
            step = p.step();
            if (step > 0) state = p.lstmState();
        }
        try (Engine e = new Engine(config.shape(), threads, config.precision())) {
            if (ckpt != null) ckpt.copyWeightsInto(e.model);
            else e.model.initialize(seed, (float) config.initScale());
            int b = config.batchSize(), t = config.numSteps(), h = config.hiddenSize();
            DropoutPlan d = config.dropouts();
            Window w = e.newWindow(b, t, d);
            if (state != null) w.setState(state);
            else w.resetState();
            BatchProducer producer = new BatchProducer(corpus.train(), b, t);
            float maxNorm = (float) config.maxGradNorm();
            int clippedOurs = 0, clippedTf = 0;
            double stepRatioSum = 0, minStepRatio = Double.MAX_VALUE, maxStepRatio = 0, embShareSum = 0;
            System.out.printf("from %s: epoch %d, step %d, global step %d, lr %.5f, %d windows%n", from, epoch + 1, step,
                    globalStep, config.learningRate(epoch, java.util.List.of()), windows);
            System.out.println("window  norm_ours  norm_tf  emb_ours  emb_tf  step_tf/step_ours");
            for (int k = 0; k < windows; k++, step++, globalStep++) {
                if (step == producer.epochSize()) {
                    step = 0;
                    epoch++;
                    w.resetState();
                }
                producer.window(step, 0, b, w.inputs, w.targets);
                long dropoutSeed = Dropout.splitSeed(seed, globalStep);
                e.trainWindow(w, d, dropoutSeed);
                // embeddingBackward masks dx in place before its scatter-add: w.dx still holds TF's
                // per-token rows, dropout and word scale applied
                double embTf = 0;
                for (int r = 0; r < b * t; r++) {
                    embTf += VectorMath.sumOfSquares(w.acts, w.dx + (long) r * h, h);
                }
                double embOurs = 0;
                BitSet seen = new BitSet();
                for (int id : w.inputs) {
                    if (seen.get(id)) continue;
                    seen.set(id);
                    embOurs += VectorMath.sumOfSquares(e.model.grads, e.model.layout.embedding + (long) id * h, h);
                }
                float lr = (float) config.learningRate(epoch, java.util.List.of());
                double normOurs = e.update(lr, maxNorm);
                double normTf = Math.sqrt(Math.max(0, normOurs * normOurs - embOurs + embTf));
                double stepOurs = Math.min(1, maxNorm / normOurs), stepTf = Math.min(1, maxNorm / normTf);
                if (normOurs > maxNorm) clippedOurs++;
                if (normTf > maxNorm) clippedTf++;
                double ratio = stepTf / stepOurs;
                stepRatioSum += ratio;
                minStepRatio = Math.min(minStepRatio, ratio);
                maxStepRatio = Math.max(maxStepRatio, ratio);
                embShareSum += embOurs / (normOurs * normOurs);
                if (k < 5 || k % Math.max(1, windows / 20) == 0) {
                    System.out.printf("%6d  %9.4f  %7.4f  %8.4f  %6.4f  %.4f%n", k, normOurs, normTf, Math.sqrt(embOurs),
                            Math.sqrt(embTf), ratio);
                }
            }
            System.out.printf("clipped: ours %d/%d, tf %d/%d; step_tf/step_ours mean %.4f (min %.4f, max %.4f); "
                            + "embedding share of ours norm² %.4f%n", clippedOurs, windows, clippedTf, windows,
                    stepRatioSum / windows, minStepRatio, maxStepRatio, embShareSum / windows);
        } finally {
            if (ckpt != null) ckpt.close();
        }
    }
}
