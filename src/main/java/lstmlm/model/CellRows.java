package lstmlm.model;

import lstmlm.kernels.Bf16;
import lstmlm.kernels.LstmCell;
import lstmlm.kernels.VectorMath;
import lstmlm.modelfile.ModelShape;

/**
 * A training window's pointwise per-step work on the team: the fused cell of one step over its B
 * rows, split by rows (rows are independent, so the split changes no bits), and, in the same
 * chunk while the rows are in cache, the bf16 copy of what the next step's product reads (h_t
 * forward, dz_t backward). The bias gradient, a sum over all rows, is left to
 * {@link #biasGradient}, which splits by columns and adds rows in the order one thread would. One
 * reusable task per window: nothing is allocated per step.
 */
final class CellRows implements WorkerTeam.RangeTask {
    private enum Mode { FORWARD, BACKWARD, BIAS }

    private final Window w;
    private Mode mode;
    private int layer, t;
    private long biasOff;
    private boolean bf16Copy;
    private LanguageModel model;

    CellRows(Window w) {
        this.w = w;
    }

    /**
     * Step t of layer l forward: gates, c_t, tanh(c_t) and h_t from z_t (which already holds both
     * products) and c_{t−1}; with {@code bf16Copy}, h_t's bf16 copy for the next step's product.
     */
    void forward(Engine e, int l, int t, boolean bf16Copy) {
        set(Mode.FORWARD, e, l, t, bf16Copy);
        e.workers.forRange(0, w.batch, this);
    }

    /**
     * Step t of layer l backward: dz_t in place over the gates, dh_t in, dc through to step t−1;
     * with {@code bf16Copy}, dz_t's bf16 copy for the product into dh_{t−1}.
     */
    void backward(Engine e, int l, int t, boolean bf16Copy) {
        set(Mode.BACKWARD, e, l, t, bf16Copy);
        e.workers.forRange(0, w.batch, this);
    }

    /**
     * dBias[4H] = Σ dz over the window's rows, steps T−1 down to 0 and rows in order within a step
     * (the order the backward steps produced them in), split over the team by columns.
     */
    void biasGradient(Engine e, int l) {
        set(Mode.BIAS, e, l, 0, false);
        e.workers.forRange(0, e.shape.gates(), this);
    }

    private void set(Mode mode, Engine e, int l, int t, boolean bf16Copy) {
        this.mode = mode;
        this.model = e.model;
        this.layer = l;
        this.t = t;
        this.bf16Copy = bf16Copy;
        this.biasOff = e.model.layout.bias(l);
    }

    @Override
    public void run(int chunk, int from, int to) {
        int hid = model.shape.hidden(), g = model.shape.gates();
        long step = (long) w.batch * hid, zStep = (long) w.batch * g;
        if (mode == Mode.BIAS) { // [from, to) are gate columns here
            long dBias = biasOff + from;
            VectorMath.fill(model.grads, dBias, to - from, 0f);
            for (int s = w.steps - 1; s >= 0; s--) {
                for (int r = 0; r < w.batch; r++) {
                    VectorMath.add(model.grads, dBias, w.acts, w.z[layer] + s * zStep + (long) r * g + from, to - from);
                }
            }
            return;
        }
        int rows = to - from;
        long zt = w.z[layer] + t * zStep + (long) from * g, own = (long) from * hid;
        long cPrev = w.c[layer] + t * step + own, tanhC = w.tanhC[layer] + t * step + own;
        if (mode == Mode.FORWARD) {
            long hNext = w.h[layer] + (t + 1) * step + own;
            LstmCell.forward(w.acts, zt, model.params, biasOff, w.acts, cPrev, w.acts, cPrev + step, w.acts, tanhC,
                    w.acts, hNext, rows, hid, ModelShape.FORGET_BIAS);
            if (bf16Copy) Bf16.fromFloats(w.acts, hNext, w.bf16Mirror, hNext, (long) rows * hid);
        } else {
            LstmCell.backward(w.acts, zt, w.acts, cPrev, w.acts, tanhC, w.acts, w.dx + t * step + own, w.acts, w.dc + own,
                    rows, hid);
            if (bf16Copy) Bf16.fromFloats(w.acts, zt, w.bf16Mirror, zt, (long) rows * g);
        }
    }
}
