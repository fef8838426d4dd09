package lstmlm.cli;

import lstmlm.kernels.VectorShapes;
import lstmlm.model.Engine;
import lstmlm.model.Precision;
import lstmlm.natives.Blas;
import lstmlm.natives.OneDnn;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** What runs where, for a run's start-up lines: OpenBLAS's core and threads, the vector shape, the sizes. */
final class RunBanner {
    private RunBanner() {}

    static List<String> lines(Engine engine) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "OpenBLAS: core %s, %d threads (%s)", Blas.coreName(), Blas.threads(), Blas.config()));
        if (engine.precision() == Precision.BF16) {
            lines.add(String.format(Locale.ROOT, "Precision bf16: oneDNN %s GEMMs on %s, %d OpenMP threads; per-step recurrent products in %s",
                    OneDnn.version(), OneDnn.isa(), engine.threads(),
                    engine.stepPrecision() == Precision.BF16 ? "bf16 too" : "fp32 (few-row kernel)"));
            if (!OneDnn.nativeBf16()) {
                lines.add("warning: this CPU has no AVX-512 BF16 or AMX: oneDNN's bf16 GEMM is no faster than fp32 here,"
                        + " and over 100x slower on AVX2 (ProductPolicy.gemmPrecision picks fp32 on such CPUs).");
            }
        }
        lines.add(String.format(Locale.ROOT, "Vector species: %s", VectorShapes.F));
        if (profiledLoopPredication()) {
            lines.add("note: C2's profiled loop predication is on; it can put the LSTM kernels into a cycle of"
                    + " deoptimisation (cells 8x slower, seen in bf16 runs). ./lstm turns it off; with java -jar,"
                    + " add -XX:-UseProfiledLoopPredicate.");
        }
        long params = engine.model().parameterCount();
        lines.add(String.format(Locale.ROOT, "Parameters: %,d (%.1f MB); activations per window: %.1f MB",
                params, params * 4 / 1e6, engine.activationBytes() / 1e6));
        return lines;
    }

    /** Whether this JVM runs with C2's -XX:+UseProfiledLoopPredicate (the default); false when it cannot tell. */
    static boolean profiledLoopPredication() {
        try {
            var hotspot = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return Boolean.parseBoolean(hotspot.getVMOption("UseProfiledLoopPredicate").getValue());
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }
}
