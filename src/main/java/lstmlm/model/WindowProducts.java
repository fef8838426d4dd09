package lstmlm.model;

import lstmlm.natives.Blas;
import lstmlm.natives.OneDnn;

import java.lang.foreign.MemorySegment;

/**
 * A window's whole-window GEMMs (input projections, logits, every weight gradient), in the engine's
 * precision, chosen once when the engine is built: float32 operands from the slabs' float32 side
 * (OpenBLAS), or bf16 operands from their mirrors at the same offsets (oneDNN), accumulated in
 * float32 either way ({@link ProductPolicy#windowProducts}). {@link #multiply} and {@link #pair} time themselves as
 * {@link StepProfile.Part#GEMM_WINDOW} when the engine profiles.
 */
abstract class WindowProducts {
    /** C = A·B + beta·C, A {@code m × k}, B {@code k × n}, C {@code m × n} (each as the product reads it). */
    final void multiply(Engine e, Matrix a, Matrix b, float beta, Matrix c) {
        long t0 = e.profile.start();
        gemm(a, b, beta, c);
        e.profile.stopGemm(StepProfile.Part.GEMM_WINDOW, t0);
    }

    /** The two independent GEMMs of {@code pair} ({@link GemmPair#run}), timed as one. */
    final void pair(Engine e, GemmPair pair) {
        long t0 = e.profile.start();
        pair.run(e);
        e.profile.stopGemm(StepProfile.Part.GEMM_WINDOW, t0);
    }

    /** The product itself, untimed (the pair's two calls, which may run on two threads, use this); shapes checked. */
    final void gemm(Matrix a, Matrix b, float beta, Matrix c) {
        if (a.cols() != b.rows() || c.rows() != a.rows() || c.cols() != b.cols() || c.transposed()) {
            throw new IllegalArgumentException("shapes do not multiply: " + a + " · " + b + " into " + c);
        }
        gemm(a.transposed(), b.transposed(), a.rows(), b.cols(), a.cols(), a.slab(), a.offset(), a.ld(),
                b.slab(), b.offset(), b.ld(), beta, c.slab().f32(), c.offset(), c.ld());
    }

    /** C[m×n] = op(A)·op(B) + beta·C in this precision. */
    abstract void gemm(boolean transA, boolean transB, int m, int n, int k, Slab a, long aOff, int lda,
                       Slab b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc);

    static final class Fp32 extends WindowProducts {
        @Override
        void gemm(boolean transA, boolean transB, int m, int n, int k, Slab a, long aOff, int lda,
                  Slab b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
            Blas.sgemm(transA, transB, m, n, k, 1f, a.f32(), aOff, lda, b.f32(), bOff, ldb, beta, c, cOff, ldc);
        }
    }

    static final class Bf16 extends WindowProducts {
        @Override
        void gemm(boolean transA, boolean transB, int m, int n, int k, Slab a, long aOff, int lda,
                  Slab b, long bOff, int ldb, float beta, MemorySegment c, long cOff, int ldc) {
            OneDnn.gemmBf16(transA, transB, m, n, k, 1f, a.bf16(), aOff, lda, b.bf16(), bOff, ldb, beta, c, cOff, ldc);
        }
    }
}
