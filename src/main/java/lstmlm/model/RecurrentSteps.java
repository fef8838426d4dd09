package lstmlm.model;

import lstmlm.kernels.LstmCell;
import lstmlm.kernels.SkinnyGemm;

import java.lang.foreign.MemorySegment;

/**
 * The recurrent steps of one layer when the batch is small: each step is one parallel section in
 * which every worker takes a range of hidden units, multiplies the recurrent product for those
 * units' columns of all four gates (Java few-row kernel over packed panels), and runs the cell on
 * them right away. A step's only hand-off is the one the recurrence forces: step t+1 reads all of
 * h_t (backward: all of dz_t).
 *
 * <p>Units are split in whole panels, and each unit is computed by one thread in a fixed order,
 * so results do not depend on the thread count. One reusable task: nothing is allocated per step.
 */
final class RecurrentSteps implements RowWorkers.RangeTask {
    /** Above this many rows OpenBLAS's blocking pays off again. */
    static final int MAX_ROWS = 32;

    private enum Mode { PACK_FORWARD, PACK_BACKWARD, FORWARD, BACKWARD }

    private Mode mode;
    private LanguageModel m;
    private Window w;
    private int layer, t;
    /** Time the calling thread (chunk 0) spent in the cell, for the step profile. */
    private long cellNanos;

    /** Packs layer l's W_rec, one gate's [H × H] block at a time, for {@link #forward}. */
    void packForward(RowWorkers workers, LanguageModel m, int layer) {
        run(workers, Mode.PACK_FORWARD, m, null, layer, 0);
    }

    /** Packs layer l's W_recᵀ [4H × H] for {@link #backward}. */
    void packBackward(RowWorkers workers, LanguageModel m, int layer) {
        run(workers, Mode.PACK_BACKWARD, m, null, layer, 0);
    }

    /** z_t += h_{t-1} · W_rec, then the cell: c_t, h_t (slot t+1 of c and h). */
    void forward(RowWorkers workers, LanguageModel m, Window w, int layer, int t) {
        run(workers, Mode.FORWARD, m, w, layer, t);
    }

    /** dh_t += dz_{t+1} · W_recᵀ (unless t is the window's last step), then the cell backward → dz_t. */
    void backward(RowWorkers workers, LanguageModel m, Window w, int layer, int t) {
        run(workers, Mode.BACKWARD, m, w, layer, t);
    }

    private void run(RowWorkers workers, Mode mode, LanguageModel m, Window w, int layer, int t) {
        this.mode = mode;
        this.m = m;
        this.w = w;
        this.layer = layer;
        this.t = t;
        long t0 = StepProfile.start();
        cellNanos = 0;
        workers.forRange(0, SkinnyGemm.panelCount(m.shape.hidden()), this);
        StepProfile.stop(StepProfile.Part.GEMM_STEP, t0);
        StepProfile.move(StepProfile.Part.GEMM_STEP, StepProfile.Part.CELL, cellNanos);
        this.m = null;
        this.w = null;
    }

    private long scratch(int chunk) {
        return w.stepScratch + (long) chunk * SkinnyGemm.scratchSize();
    }

    @Override
    public void run(int chunk, int from, int to) {
        final int hid = m.shape.hidden(), g = 4 * hid;
        final int unitFrom = from * SkinnyGemm.panelWidth(), unitTo = Math.min(to * SkinnyGemm.panelWidth(), hid);
        final MemorySegment p = m.params, panels = m.recurrentPanels;
        final long wRec = m.layout.recurrentWeight(layer), bias = m.layout.bias(layer);
        final long gatePanels = SkinnyGemm.packedSize(hid, hid);
        switch (mode) {
            case PACK_FORWARD -> {
                for (int gate = 0; gate < 4; gate++) {
                    SkinnyGemm.pack(p, wRec + (long) gate * hid, g, hid, hid,
                            panels, m.forwardPanelsOffset(layer) + gate * gatePanels, from, to);
                }
            }
            case PACK_BACKWARD -> SkinnyGemm.packTransposed(p, wRec, g, g, hid, panels, m.backwardPanelsOffset(layer), from, to);
            case FORWARD -> {
                final int b = w.batch;
                final MemorySegment acts = w.acts;
                final long step = (long) b * hid, zt = w.z[layer] + t * (long) b * g;
                for (int gate = 0; gate < 4; gate++) {
                    SkinnyGemm.multiplyAdd(b, hid, acts, w.h[layer] + t * step, hid,
                            panels, m.forwardPanelsOffset(layer) + gate * gatePanels,
                            acts, zt + (long) gate * hid, g, hid, from, to, acts, scratch(chunk));
                }
                long c0 = chunk == 0 ? StepProfile.start() : 0;
                LstmCell.forward(acts, zt, p, bias, acts, w.c[layer] + t * step, acts, w.c[layer] + (t + 1) * step,
                        acts, w.tanhC[layer] + t * step, acts, w.h[layer] + (t + 1) * step, b, hid, unitFrom, unitTo,
                        Passes.FORGET_BIAS);
                if (chunk == 0) cellNanos = StepProfile.start() - c0;
            }
            case BACKWARD -> {
                final int b = w.batch;
                final MemorySegment acts = w.acts;
                final long step = (long) b * hid, zStep = (long) b * g, zt = w.z[layer] + t * zStep, dht = w.dx + t * step;
                if (t < w.steps - 1) {
                    SkinnyGemm.multiplyAdd(b, g, acts, zt + zStep, g, panels, m.backwardPanelsOffset(layer),
                            acts, dht, hid, hid, from, to, acts, scratch(chunk));
                }
                long c0 = chunk == 0 ? StepProfile.start() : 0;
                LstmCell.backward(acts, zt, acts, w.c[layer] + t * step, acts, w.tanhC[layer] + t * step,
                        acts, dht, acts, w.dc, m.grads, bias, b, hid, unitFrom, unitTo);
                if (chunk == 0) cellNanos = StepProfile.start() - c0;
            }
        }
    }
}
