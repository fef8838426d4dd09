package lstmlm.model;

import java.util.EnumMap;
import java.util.Map;

/**
 * Where a training step's time goes, by kind of work, for one {@link Engine}. Off unless the engine
 * was built with a profile ({@link #on()}; the bench command does): then the products time
 * themselves ({@link StepProducts}, {@link WindowProducts}) and the engine times each stage of a
 * window (embedding, each layer, the softmax), a stage's part being its time less the products'
 * inside it; a disabled profile costs a predictable branch per call and nothing else. The passes
 * themselves hold no timing. Only the thread that drives the passes records; its time includes
 * waiting for helpers.
 */
public final class StepProfile {

    public enum Part {
        /** whole-window GEMMs: input projections, logits, every weight gradient */
        GEMM_WINDOW,
        /** the per-step recurrent products, forward and backward */
        GEMM_STEP,
        /** an LSTM layer forward and backward but its products: the cells, the layer's dropout, bf16 rounding */
        CELL,
        /** softmax + cross-entropy (with the bias gradient) */
        SOFTMAX,
        /** embedding gather/scatter, dropout, state copies */
        OTHER_KERNELS,
        /** global norm, clipping and SGD */
        UPDATE,
        /** data-parallel training: the gradients summed over the ranks */
        ALLREDUCE
    }

    private final boolean enabled;
    private final long[] nanos = new long[Part.values().length];
    /** All product time recorded so far, and its value and the clock when the current stage began. */
    private long productNanos, productsAtStage, stageStart;

    private StepProfile(boolean enabled) {
        this.enabled = enabled;
    }

    /** A profile that records. */
    public static StepProfile on() {
        return new StepProfile(true);
    }

    /** A profile that records nothing (what training runs with). */
    public static StepProfile off() {
        return new StepProfile(false);
    }

    long start() {
        return enabled ? System.nanoTime() : 0;
    }

    /** Adds the time since {@code start} to {@code part}; returns now, to chain the next part. */
    long stop(Part part, long start) {
        if (!enabled) return 0;
        long now = System.nanoTime();
        nanos[part.ordinal()] += now - start;
        return now;
    }

    /** A product's time since {@code start}, added to {@code part} and taken out of the stage it ran in. */
    void stopGemm(Part part, long start) {
        if (!enabled) return;
        long d = System.nanoTime() - start;
        nanos[part.ordinal()] += d;
        productNanos += d;
    }

    /** A stage of a window begins: {@link #endStage} gives it the time until then, less its products'. */
    void beginStage() {
        if (!enabled) return;
        productsAtStage = productNanos;
        stageStart = System.nanoTime();
    }

    void endStage(Part part) {
        if (!enabled) return;
        nanos[part.ordinal()] += System.nanoTime() - stageStart - (productNanos - productsAtStage);
    }

    public void reset() {
        java.util.Arrays.fill(nanos, 0);
    }

    public long nanos(Part part) {
        return nanos[part.ordinal()];
    }

    /** Milliseconds per window of each part over the last {@code windows} windows since {@link #reset}. */
    public Map<Part, Double> millisPerWindow(int windows) {
        Map<Part, Double> millis = new EnumMap<>(Part.class);
        for (Part p : Part.values()) millis.put(p, nanos(p) / 1e6 / windows);
        return millis;
    }
}
