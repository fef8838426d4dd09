package lstmlm.model;

import lstmlm.natives.Blas;

/**
 * A window's per-step recurrent products, B rows each: z_t += h_{t−1}·W_rec forward and
 * dh_{t−1} += dz_t·W_recᵀ backward. How they run is chosen once, when the window is built
 * ({@link ProductPolicy#stepProducts}): in bf16 on CPUs that multiply bf16 ({@link PackedSteps}), on the Java few-row
 * kernel up to {@link RecurrentProduct#MAX_ROWS} rows, on OpenBLAS above. The public methods time
 * themselves as {@link StepProfile.Part#GEMM_STEP} when the engine profiles, so the passes hold
 * only the math.
 */
abstract class StepProducts {
    /** Whether the steps read h_{t−1} and dz_t from the bf16 mirror, which the passes must fill step by step. */
    boolean bf16() {
        return false;
    }

    /** Before layer l's forward steps: whatever W_rec must be packed into for them. */
    final void prepareForward(Engine e, Window w, int l) {
        long t0 = e.profile.start();
        packForward(e, w, l);
        e.profile.stopGemm(StepProfile.Part.GEMM_STEP, t0);
    }

    /** z[zt..] (B × 4H) += h[hPrev..] (B × H) · W_rec of layer l. */
    final void forward(Engine e, Window w, int l, long hPrev, long zt) {
        long t0 = e.profile.start();
        multiplyForward(e, w, l, hPrev, zt);
        e.profile.stopGemm(StepProfile.Part.GEMM_STEP, t0);
    }

    /** Before layer l's backward steps. */
    final void prepareBackward(Engine e, Window w, int l) {
        long t0 = e.profile.start();
        packBackward(e, w, l);
        e.profile.stopGemm(StepProfile.Part.GEMM_STEP, t0);
    }

    /** into[..] (B × H) += dz[dz..] (B × 4H) · W_recᵀ of layer l. */
    final void backward(Engine e, Window w, int l, long dz, long into) {
        long t0 = e.profile.start();
        multiplyBackward(e, w, l, dz, into);
        e.profile.stopGemm(StepProfile.Part.GEMM_STEP, t0);
    }

    abstract void packForward(Engine e, Window w, int l);

    abstract void multiplyForward(Engine e, Window w, int l, long hPrev, long zt);

    abstract void packBackward(Engine e, Window w, int l);

    abstract void multiplyBackward(Engine e, Window w, int l, long dz, long into);

    /** oneDNN bf16 over columns split across the team, W_rec packed once per parameter version. */
    static final class Bf16Steps extends StepProducts {
        @Override
        boolean bf16() {
            return true;
        }

        @Override
        void packForward(Engine e, Window w, int l) {
            LanguageModel m = e.model;
            w.packedSteps.packForward(e.workers, l, m.version(), m.slab.bf16(), m.layout.recurrentWeight(l));
        }

        @Override
        void multiplyForward(Engine e, Window w, int l, long hPrev, long zt) {
            w.packedSteps.forward(e.workers, l, w.bf16Mirror, hPrev, w.acts, zt);
        }

        @Override
        void packBackward(Engine e, Window w, int l) {
            LanguageModel m = e.model;
            w.packedSteps.packBackward(e.workers, l, m.version(), m.slab.bf16(), m.layout.recurrentWeight(l));
        }

        @Override
        void multiplyBackward(Engine e, Window w, int l, long dz, long into) {
            w.packedSteps.backward(e.workers, l, w.bf16Mirror, dz, w.acts, into);
        }
    }

    /** The Java few-row kernel over W_rec packed into column panels (forward once per version, Wᵀ every window). */
    static final class FewRows extends StepProducts {
        @Override
        void packForward(Engine e, Window w, int l) {
            LanguageModel m = e.model;
            if (m.forwardPanelsCurrent(l)) return;
            int g = m.shape.gates();
            w.recurrent.pack(e.workers, m.params, m.layout.recurrentWeight(l), g, m.shape.hidden(), g, m.recurrentPanels,
                    m.forwardPanelsOffset(l));
            m.forwardPanelsPacked(l);
        }

        @Override
        void multiplyForward(Engine e, Window w, int l, long hPrev, long zt) {
            LanguageModel m = e.model;
            int hid = m.shape.hidden(), g = m.shape.gates();
            w.recurrent.multiplyAdd(e.workers, w.batch, hid, w.acts, hPrev, hid, m.recurrentPanels, m.forwardPanelsOffset(l),
                    w.acts, zt, g, g, w.acts, w.stepScratch);
        }

        @Override
        void packBackward(Engine e, Window w, int l) {
            LanguageModel m = e.model;
            int g = m.shape.gates();
            w.recurrent.packTransposed(e.workers, m.params, m.layout.recurrentWeight(l), g, g, m.shape.hidden(),
                    m.recurrentPanels, m.backwardPanelsOffset(l));
        }

        @Override
        void multiplyBackward(Engine e, Window w, int l, long dz, long into) {
            LanguageModel m = e.model;
            int hid = m.shape.hidden(), g = m.shape.gates();
            w.recurrent.multiplyAdd(e.workers, w.batch, g, w.acts, dz, g, m.recurrentPanels, m.backwardPanelsOffset(l),
                    w.acts, into, hid, hid, w.acts, w.stepScratch);
        }
    }

    /** OpenBLAS on W_rec in place: past the few-row kernel's rows its blocking pays again. */
    static final class OpenBlas extends StepProducts {
        @Override
        void packForward(Engine e, Window w, int l) {}

        @Override
        void multiplyForward(Engine e, Window w, int l, long hPrev, long zt) {
            LanguageModel m = e.model;
            int hid = m.shape.hidden(), g = m.shape.gates();
            Blas.sgemm(false, false, w.batch, g, hid, 1f, w.acts, hPrev, hid, m.params, m.layout.recurrentWeight(l), g,
                    1f, w.acts, zt, g);
        }

        @Override
        void packBackward(Engine e, Window w, int l) {}

        @Override
        void multiplyBackward(Engine e, Window w, int l, long dz, long into) {
            LanguageModel m = e.model;
            int hid = m.shape.hidden(), g = m.shape.gates();
            Blas.sgemm(false, true, w.batch, hid, g, 1f, w.acts, dz, g, m.params, m.layout.recurrentWeight(l), g,
                    1f, w.acts, into, hid);
        }
    }
}
