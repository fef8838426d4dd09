package lstmlm.model;

import lstmlm.natives.OneDnn;

import java.util.Locale;

/**
 * How a product runs, chosen once by what the CPU can do, the precision asked for and the rows:
 * the engine asks it for its whole-window GEMMs ({@link WindowProducts}) and each window for its
 * per-step products ({@link StepProducts}); training, evaluation and the benchmark ask it which
 * precision a run's GEMMs compute in. (Inference's products are chosen likewise by
 * {@link LayerSequence#product}.) Every choice is a fixed function of the CPU and the settings,
 * so a run and its resumes on one machine give the same bits.
 */
public final class ProductPolicy {
    private ProductPolicy() {}

    /**
     * The precision the GEMMs of a run that asks for {@code requested} compute in on this CPU: bf16
     * only where oneDNN multiplies bf16 natively (AVX-512 BF16 or AMX). Elsewhere oneDNN has no fast
     * path to give: on AVX2 it runs reference code over 100× slower than sgemm (docs/performance.md),
     * and on AVX-512 without BF16 it emulates bf16 with fp32 arithmetic. So there a bf16 run computes its GEMMs in fp32, with fp32's
     * bits, and says so ({@link #fallbackWarning}); its config, checkpoints and resumes stay bf16's. Training,
     * evaluation and the benchmark build their engines with this; a test that must exercise
     * oneDNN's bf16 GEMM on any CPU passes {@link Precision#BF16} to the engine itself.
     */
    public static Precision gemmPrecision(Precision requested) {
        return requested == Precision.BF16 && !OneDnn.nativeBf16() ? Precision.FP32 : requested;
    }

    /**
     * Whether a bf16 engine runs the per-step recurrent products (B rows: z_t += h_{t−1}·W_rec and
     * dh_{t−1} += dz_t·W_recᵀ) in oneDNN bf16 as well, rather than in fp32 with the few-row kernel:
     * on AVX-512 BF16 without AMX ({@link PackedSteps}: columns split over the team, W_rec packed
     * once per window when it is large): there they take about half the time of fp32's, while with
     * AMX oneDNN's GEMM repacks into tiles at every call and was slower, so there they stay fp32
     * (docs/performance.md). The choice is a fixed function of the CPU, so a run and
     * its resumes on one machine give the same bits.
     */
    public static boolean bf16StepsOnThisCpu() {
        return OneDnn.nativeBf16() && !OneDnn.isa().toLowerCase(Locale.ROOT).contains("amx");
    }

    /** The start-up warning of a run that asked for bf16 and computes in fp32 ({@link #gemmPrecision}). */
    public static String fallbackWarning() {
        return "warning: precision bf16 asked for, but this CPU has no AVX-512 BF16 or AMX (oneDNN " + OneDnn.version()
                + ": " + OneDnn.isa() + "), where oneDNN's bf16 GEMM is no faster than fp32 and on AVX2 over 100x slower."
                + " The GEMMs run in fp32 instead: fp32's speed and numbers; the config and checkpoints stay bf16."
                + " (A new run with --precision fp32 does the same without this warning.)";
    }


    /** The whole-window GEMMs of an engine computing in bf16 or fp32. */
    static WindowProducts windowProducts(boolean bf16) {
        return bf16 ? new WindowProducts.Bf16() : new WindowProducts.Fp32();
    }

    /** The per-step products of window {@code w}: bf16 when it has its packed steps, else by its row count. */
    static StepProducts stepProducts(Window w) {
        if (w.packedSteps != null) return new StepProducts.Bf16Steps();
        return w.batch <= RecurrentProduct.MAX_ROWS ? new StepProducts.FewRows() : new StepProducts.OpenBlas();
    }
}
