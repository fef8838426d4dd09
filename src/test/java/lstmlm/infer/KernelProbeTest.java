package lstmlm.infer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

/** Not a check: times each one-row kernel at the small model's shapes. Run with -Dlstm.latency=true. */
@EnabledIfSystemProperty(named = "lstm.latency", matches = "true")
class KernelProbeTest {
    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path dir;

    interface Op { void run(); }

    static void time(String name, Op op) {
        for (int i = 0; i < 200; i++) op.run();
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long bytes0 = mx.getCurrentThreadAllocatedBytes();
        long[] t = new long[200];
        for (int i = 0; i < t.length; i++) {
            long t0 = System.nanoTime();
            op.run();
            t[i] = System.nanoTime() - t0;
        }
        long bytes = mx.getCurrentThreadAllocatedBytes() - bytes0;
        java.util.Arrays.sort(t);
        System.out.printf("%-40s p50 %8.1f us  alloc/op %d%n", name, t[t.length / 2] / 1e3, bytes / t.length);
    }

    @Test
    void allocationByShape() {
        for (int[] shape : new int[][]{{500, 40}, {512, 48}, {500, 48}, {2000, 200}}) {
            java.nio.file.Path file = TestModels.write(dir, shape[0], shape[1], 2, 7, 0.05f);
            try (Model m = Model.load(file); Session s = m.newSession()) {
                int[] k = {0};
                time("feed V=" + shape[0] + " H=" + shape[1], () -> s.feed((k[0]++ * 7919) % shape[0]));
            }
        }
    }

    @Test
    void batchParts() {
        Arena a = Arena.ofAuto();
        int H = 200, V = 10000, B = 64;
        MemorySegment x = a.allocate(4L * B * H, 64), w = a.allocate(4L * H * V, 64), y = a.allocate(4L * B * V, 64);
        System.out.println("blas threads " + lstmlm.blas.Blas.threads() + " core " + lstmlm.blas.Blas.coreName());
        time("sgemm 64x10000x200", () -> lstmlm.blas.Blas.sgemm(false, false, B, V, H, 1f, x, 0, H, w, 0, V, 0f, y, 0, V));
        time("sgemm 64x800x200", () -> lstmlm.blas.Blas.sgemm(false, false, B, 800, H, 1f, x, 0, H, w, 0, 800, 0f, y, 0, 800));
        lstmlm.blas.Blas.setThreads(1);
        time("1t sgemm 64x10000x200", () -> lstmlm.blas.Blas.sgemm(false, false, B, V, H, 1f, x, 0, H, w, 0, V, 0f, y, 0, V));
        time("1t sgemm 64x800x200", () -> lstmlm.blas.Blas.sgemm(false, false, B, 800, H, 1f, x, 0, H, w, 0, 800, 0f, y, 0, 800));
    }

    @Test
    void mappedFirst() {
        Arena a = Arena.ofAuto();
        int H = 200, V = 10000;
        MemorySegment x = a.allocate(4L * 2 * H, 64), y = a.allocate(4L * 4 * H, 64);
        MemorySegment b = a.allocate(4L * V, 64), logits = a.allocate(4L * V, 64);
        java.nio.file.Path file = TestModels.write(dir, V, H, 2, 7, 0.05f);
        try (Model m = Model.load(file)) {
            MemorySegment msw = m.softmaxWeight;
            time("FIRST mapped stream 8MB", () -> RowKernels.streamSum(msw, msw.byteSize()));
            time("FIRST mapped softmax vecMat", () -> RowKernels.vectorTimesMatrix(x, 0, H, msw, 0, V, b, 0, logits, 0));
            MemorySegment c = a.allocate(4L * 2 * H, 64);
            time("FIRST row lstm cell", () -> RowKernels.lstmCell(y, 0, m.lstmBias[0], c, 0, c, H, x, H, H));
        }
    }

    @Test
    void probe() {
        Arena a = Arena.ofAuto();
        int H = 200, V = 10000;
        MemorySegment x = a.allocate(4L * 2 * H, 64), w = a.allocate(4L * 2 * H * 4 * H, 64), y = a.allocate(4L * 4 * H, 64);
        MemorySegment b = a.allocate(4L * V, 64), sw = a.allocate(4L * H * V, 64), logits = a.allocate(4L * V, 64);
        float[] out = new float[V];
        time("lstm vecMat 400x800", () -> RowKernels.vectorTimesMatrix(x, 0, 2 * H, w, 0, 4 * H, b, 0, y, 0));
        time("softmax vecMat 200x10000", () -> RowKernels.vectorTimesMatrix(x, 0, H, sw, 0, V, b, 0, logits, 0));
        time("softmax matVec 10000x200", () -> RowKernels.matrixTimesVector(sw, 0, V, H, x, 0, b, 0, logits, 0, new float[64]));
        time("logSumExp 10000", () -> RowKernels.logSumExp(logits, 0, V, out));
        time("expInto 10000", () -> RowKernels.expInto(logits, 0, V, 0f, 1f, out));
        time("stream 8MB", () -> RowKernels.streamSum(sw, sw.byteSize()));
        java.nio.file.Path file = TestModels.write(dir, V, H, 2, 7, 0.05f);
        try (Model m = Model.load(file)) {
            MemorySegment msw = m.softmaxWeight;
            time("mapped softmax vecMat", () -> RowKernels.vectorTimesMatrix(x, 0, H, msw, 0, V, b, 0, logits, 0));
            time("mapped lstm vecMat", () -> RowKernels.vectorTimesMatrix(x, 0, 2 * H, m.lstmWeight[0], 0, 4 * H, b, 0, y, 0));
            time("mapped stream 8MB", () -> RowKernels.streamSum(msw, msw.byteSize()));
            Session s = m.newSession();
            int[] k = {0};
            time("session feed", () -> s.feed((k[0]++ * 7919) % V));
            time("session feed+probs", () -> { s.feed((k[0]++ * 7919) % V); s.probabilities(out); });
        }
    }
}
