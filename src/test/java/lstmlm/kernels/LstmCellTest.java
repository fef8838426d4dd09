package lstmlm.kernels;

import static lstmlm.kernels.KernelTestSupport.assertClose;
import static lstmlm.kernels.KernelTestSupport.copyOf;
import static lstmlm.kernels.KernelTestSupport.floats;
import static lstmlm.kernels.KernelTestSupport.get;
import static lstmlm.kernels.KernelTestSupport.random;
import static lstmlm.kernels.KernelTestSupport.set;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Tolerances. Kernel vs reference: the only difference is VectorOperators.EXP/TANH (SVML, ~1 ulp)
 * against Math.exp/Math.tanh rounded to float, passed through a handful of float ops, so outputs
 * agree to a few ulps: rtol 1e-5. atol 1e-6 covers results that come out of a cancellation
 * (c = f*cPrev + i*g, dcTot = dc + ..., 1 - tanh²(c)) whose absolute error is a few ulps of the
 * O(1) terms (ulp(2) = 2.4e-7) while the result itself may be near 0.
 * Against the double-precision model the float rounding of every intermediate adds up to the same
 * order, so the same bounds apply; the finite-difference check uses atol 1e-5 for the FD error.
 */
class LstmCellTest {
    static final double RTOL = 1e-5, ATOL = 1e-6;
    static final int L = VectorShapes.F.length();

    /** Inputs with room before each buffer, so offsets are exercised and the padding must stay put. */
    record Case(int rows, int H, long zOff, long bOff, long cpOff, long cOff, long hOff,
                MemorySegment z, MemorySegment bias, MemorySegment cPrev, MemorySegment c, MemorySegment h,
                long tcOff, MemorySegment tanhC) {
        static Case random(Arena arena, int rows, int H, long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            long zOff = 3, bOff = 5, cpOff = 1, cOff = 7, hOff = 2;
            return new Case(rows, H, zOff, bOff, cpOff, cOff, hOff,
                    KernelTestSupport.random(arena, zOff + 4L * rows * H, rnd, -3f, 3f),
                    KernelTestSupport.random(arena, bOff + 4L * H, rnd, -0.5f, 0.5f),
                    KernelTestSupport.random(arena, cpOff + (long) rows * H, rnd, -2f, 2f),
                    KernelTestSupport.random(arena, cOff + (long) rows * H, rnd, -9f, 9f),
                    KernelTestSupport.random(arena, hOff + (long) rows * H, rnd, -9f, 9f),
                    4, KernelTestSupport.random(arena, 4 + (long) rows * H, rnd, -9f, 9f));
        }

        Case copy(Arena arena) {
            return new Case(rows, H, zOff, bOff, cpOff, cOff, hOff, copyOf(arena, z), copyOf(arena, bias),
                    copyOf(arena, cPrev), copyOf(arena, c), copyOf(arena, h), tcOff, copyOf(arena, tanhC));
        }

        void forward(boolean vector, float forgetBias) {
            if (vector) {
                LstmCell.forward(z, zOff, bias, bOff, cPrev, cpOff, c, cOff, tanhC, tcOff, h, hOff, rows, H, forgetBias);
            } else {
                LstmCellReference.forward(z, zOff, bias, bOff, cPrev, cpOff, c, cOff, tanhC, tcOff, h, hOff, rows, H,
                        forgetBias);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,13", "2,37", "20,200", "4,16", "5,33"})
    void forwardMatchesReference(int rows, int hidden) {
        try (Arena arena = Arena.ofConfined()) {
            for (float fb : new float[] {0f, 1f}) {
                Case k = Case.random(arena, rows, hidden, 31L * rows + hidden);
                Case r = k.copy(arena);
                k.forward(true, fb);
                r.forward(false, fb);
                assertClose(r.z(), k.z(), RTOL, ATOL, "gates");
                assertClose(r.c(), k.c(), RTOL, ATOL, "c");
                assertClose(r.h(), k.h(), RTOL, ATOL, "h");
                assertClose(r.tanhC(), k.tanhC(), RTOL, ATOL, "tanh(c)");
                KernelTestSupport.assertSameFloats(r.cPrev(), k.cPrev(), "cPrev untouched");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,13", "2,37", "20,200", "4,16", "5,33"})
    void backwardMatchesReference(int rows, int hidden) {
        try (Arena arena = Arena.ofConfined()) {
            Case k = Case.random(arena, rows, hidden, 7L * rows + hidden);
            k.forward(false, 1f); // real activated gates and c in z / c
            SplittableRandom rnd = new SplittableRandom(hidden);
            long dhOff = 4, dcOff = 6;
            MemorySegment dh = random(arena, dhOff + (long) rows * hidden, rnd, -1f, 1f);
            MemorySegment dc = random(arena, dcOff + (long) rows * hidden, rnd, -1f, 1f);
            MemorySegment z2 = copyOf(arena, k.z()), dc2 = copyOf(arena, dc);

            LstmCell.backward(k.z(), k.zOff(), k.cPrev(), k.cpOff(), k.tanhC(), k.tcOff(), dh, dhOff, dc, dcOff,
                    rows, hidden);
            LstmCellReference.backward(z2, k.zOff(), k.cPrev(), k.cpOff(), k.tanhC(), k.tcOff(), dh, dhOff, dc2, dcOff,
                    rows, hidden);
            assertClose(z2, k.z(), RTOL, ATOL, "dZ");
            assertClose(dc2, dc, RTOL, ATOL, "dcPrev");
        }
    }

    /**
     * The tests above run mostly interpreted, where the Vector API falls back to per-lane Math calls.
     * Run the kernels enough times for C2 to compile them, then compare.
     */
    @Test
    void compiledKernelsMatchReference() {
        int rows = 4, H = 37;
        try (Arena arena = Arena.ofConfined()) {
            Case base = Case.random(arena, rows, H, 5);
            SplittableRandom rnd = new SplittableRandom(5);
            MemorySegment dh = random(arena, (long) rows * H, rnd, -1f, 1f);
            MemorySegment dc0 = random(arena, (long) rows * H, rnd, -1f, 1f);
            Case k = base.copy(arena), r = base.copy(arena);
            MemorySegment dc = copyOf(arena, dc0);
            for (int rep = 0; rep < 4000; rep++) {
                k.z().copyFrom(base.z());
                k.forward(true, 1f);
                dc.copyFrom(dc0);
                LstmCell.backward(k.z(), k.zOff(), k.cPrev(), k.cpOff(), k.tanhC(), k.tcOff(), dh, 0, dc, 0, rows, H);
            }
            r.forward(false, 1f);
            MemorySegment zFwd = copyOf(arena, r.z());
            k.z().copyFrom(base.z());
            k.forward(true, 1f);
            assertClose(zFwd, k.z(), RTOL, ATOL, "compiled gates");
            assertClose(r.h(), k.h(), RTOL, ATOL, "compiled h");
            MemorySegment dcRef = copyOf(arena, dc0);
            LstmCellReference.backward(r.z(), r.zOff(), r.cPrev(), r.cpOff(), r.tanhC(), r.tcOff(), dh, 0, dcRef, 0, rows, H);
            dc.copyFrom(dc0);
            LstmCell.backward(k.z(), k.zOff(), k.cPrev(), k.cpOff(), k.tanhC(), k.tcOff(), dh, 0, dc, 0, rows, H);
            assertClose(r.z(), k.z(), RTOL, ATOL, "compiled dZ");
            assertClose(dcRef, dc, RTOL, ATOL, "compiled dcPrev");
        }
    }

    /** i=f=o=σ(0)=0.5, g=tanh(0)=0, c=0.5*1+0.5*0=0.5, h=0.5*tanh(0.5), worked by hand. */
    @Test
    void forwardHandComputedZeroInputs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment z = floats(arena, 4), bias = floats(arena, 4), cPrev = floats(arena, 1);
            MemorySegment c = floats(arena, 1), h = floats(arena, 1), tanhC = floats(arena, 1);
            set(cPrev, 0, 1f);
            LstmCell.forward(z, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, 1, 1, 0f);
            assertClose(0.5, get(z, 0), 0, 1e-7, "i");
            assertClose(0.5, get(z, 1), 0, 1e-7, "f");
            assertClose(0.0, get(z, 2), 0, 1e-7, "g");
            assertClose(0.5, get(z, 3), 0, 1e-7, "o");
            assertClose(0.5, get(c, 0), 0, 1e-7, "c");
            assertClose(0.23105857863000487, get(h, 0), 1e-6, 0, "h");
        }
    }

    /** Vector lanes and tail against a double-precision model of the cell, forgetBias included. */
    @Test
    void forwardMatchesDoubleModel() {
        int rows = 2, H = 2 * L + 3;
        float fb = 1f;
        try (Arena arena = Arena.ofConfined()) {
            Model m = Model.make(rows, H);
            MemorySegment z = fill(arena, m.zpre), bias = fill(arena, m.bias), cPrev = fill(arena, m.cPrev);
            MemorySegment c = floats(arena, rows * H), h = floats(arena, rows * H), tanhC = floats(arena, rows * H);
            LstmCell.forward(z, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, rows, H, fb);
            double[] gates = new double[4 * rows * H], cd = new double[rows * H], hd = new double[rows * H];
            m.forward(m.zpre, m.cPrev, fb, gates, cd, hd);
            for (int i = 0; i < gates.length; i++) {
                assertClose(gates[i], get(z, i), RTOL, ATOL, "gate " + i);
            }
            for (int i = 0; i < cd.length; i++) {
                assertClose(cd[i], get(c, i), RTOL, ATOL, "c " + i);
                assertClose(hd[i], get(h, i), RTOL, ATOL, "h " + i);
            }
        }
    }

    /**
     * Gradient check: with loss = Σ dh·h + Σ dcNext·c, backward's dZ and dcPrev must equal
     * central differences of the double model (eps 1e-5 in double: FD error ~1e-10).
     */
    @Test
    void backwardMatchesFiniteDifferences() {
        int rows = 2, H = L + 3;
        float fb = 1f;
        try (Arena arena = Arena.ofConfined()) {
            Model m = Model.make(rows, H);
            SplittableRandom rnd = new SplittableRandom(99);
            double[] dhD = new double[rows * H], dcD = new double[rows * H];
            for (int i = 0; i < dhD.length; i++) {
                dhD[i] = (float) (rnd.nextDouble() * 2 - 1);
                dcD[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            MemorySegment z = fill(arena, m.zpre), bias = fill(arena, m.bias), cPrev = fill(arena, m.cPrev);
            MemorySegment c = floats(arena, rows * H), h = floats(arena, rows * H), tanhC = floats(arena, rows * H);
            MemorySegment dh = fill(arena, dhD), dc = fill(arena, dcD);
            LstmCell.forward(z, 0, bias, 0, cPrev, 0, c, 0, tanhC, 0, h, 0, rows, H, fb);
            LstmCell.backward(z, 0, cPrev, 0, tanhC, 0, dh, 0, dc, 0, rows, H);

            double eps = 1e-5, fdTol = 1e-5;
            for (int i = 0; i < m.zpre.length; i++) {
                double[] zp = m.zpre.clone(), zm = m.zpre.clone();
                zp[i] += eps;
                zm[i] -= eps;
                double fd = (m.loss(zp, m.cPrev, fb, dhD, dcD) - m.loss(zm, m.cPrev, fb, dhD, dcD)) / (2 * eps);
                assertClose(fd, get(z, i), RTOL, fdTol, "dZ " + i);
            }
            for (int i = 0; i < m.cPrev.length; i++) {
                double[] cp = m.cPrev.clone(), cm = m.cPrev.clone();
                cp[i] += eps;
                cm[i] -= eps;
                double fd = (m.loss(m.zpre, cp, fb, dhD, dcD) - m.loss(m.zpre, cm, fb, dhD, dcD)) / (2 * eps);
                assertClose(fd, get(dc, i), RTOL, fdTol, "dcPrev " + i);
            }
            // the bias gradient, Σ over rows of dZ, is the engine's (CellRows; GradientCheckTest checks it)
        }
    }

    private static MemorySegment fill(Arena arena, double[] v) {
        MemorySegment s = floats(arena, v.length);
        for (int i = 0; i < v.length; i++) {
            set(s, i, (float) v[i]);
        }
        return s;
    }

    /** Double-precision LSTM cell; inputs are float-representable so kernel and model see the same numbers. */
    record Model(int rows, int H, double[] zpre, double[] bias, double[] cPrev) {
        static Model make(int rows, int H) {
            double[] z = new double[4 * rows * H], b = new double[4 * H], cp = new double[rows * H];
            for (int i = 0; i < z.length; i++) {
                z[i] = (float) (2.5 * Math.sin(0.37 * i + 0.1));
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) (0.3 * Math.cos(1.3 * i));
            }
            for (int i = 0; i < cp.length; i++) {
                cp[i] = (float) (1.5 * Math.sin(0.71 * i + 2));
            }
            return new Model(rows, H, z, b, cp);
        }

        void forward(double[] z, double[] cp, double fb, double[] gates, double[] c, double[] h) {
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < H; j++) {
                    int zr = 4 * H * r;
                    double i = sig(z[zr + j] + bias[j]);
                    double f = sig(z[zr + H + j] + bias[H + j] + fb);
                    double g = Math.tanh(z[zr + 2 * H + j] + bias[2 * H + j]);
                    double o = sig(z[zr + 3 * H + j] + bias[3 * H + j]);
                    gates[zr + j] = i;
                    gates[zr + H + j] = f;
                    gates[zr + 2 * H + j] = g;
                    gates[zr + 3 * H + j] = o;
                    c[r * H + j] = f * cp[r * H + j] + i * g;
                    h[r * H + j] = o * Math.tanh(c[r * H + j]);
                }
            }
        }

        double loss(double[] z, double[] cp, double fb, double[] dh, double[] dcNext) {
            double[] gates = new double[z.length], c = new double[rows * H], h = new double[rows * H];
            forward(z, cp, fb, gates, c, h);
            double s = 0;
            for (int i = 0; i < c.length; i++) {
                s += dh[i] * h[i] + dcNext[i] * c[i];
            }
            return s;
        }

        static double sig(double x) {
            return 1 / (1 + Math.exp(-x));
        }
    }
}
