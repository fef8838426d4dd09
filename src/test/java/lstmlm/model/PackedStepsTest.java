package lstmlm.model;

import lstmlm.kernels.Bf16;
import lstmlm.modelfile.ModelShape;
import lstmlm.natives.OneDnn;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The bf16 per-step products over packed weights ({@link PackedSteps}), split by columns over a
 * team, against a double triple loop over the same bf16 inputs: hidden sizes that give one column
 * unit, several, and a partial last one, in both directions, teams of 1 to 3, W_rec at an offset
 * inside a larger bf16 mirror, packed and read in place. Every column is computed exactly once (a unit
 * dropped or done twice is off by whole terms), a pack is skipped while the version holds (so the
 * test sees the stale weights) and redone when it moves, and the caller's OpenMP team is restored.
 */
class PackedStepsTest {

    @ParameterizedTest(name = "H={0} B={1} layers={2} team={3} packed={4}")
    @CsvSource({
            "7, 3, 1, 2, true",
            "40, 20, 2, 2, true",
            "70, 20, 1, 3, true",
            "33, 1, 2, 1, true",
            "7, 3, 1, 2, false",
            "40, 20, 2, 2, false",
            "70, 20, 1, 3, false",
    })
    void stepsMatchTheReferenceAndFollowTheVersion(int hid, int batch, int layers, int team, boolean packed) {
        org.junit.jupiter.api.Assumptions.assumeTrue(!packed || lstmlm.natives.OneDnnSupport.packedMatmul(lstmlm.natives.PackedMatmul.Element.BF16),
                "oneDNN has no bf16 matmul on this CPU (" + OneDnn.isa() + "); the engine does not pack here");
        int g = 4 * hid;
        SplittableRandom r = new SplittableRandom(hid * 131L + batch);
        ModelShape shape = new ModelShape(5, hid, layers);
        long wRec = 17 + (long) (layers - 1) * hid * g; // the last layer's W_rec, past the others
        long shadowSize = wRec + (long) hid * g + 3;
        float[] w1 = random(r, shadowSize), w2 = random(r, shadowSize);
        float[] h = random(r, (long) batch * hid + 5), dz = random(r, (long) batch * g + 5);
        float[] z = random(r, (long) batch * g + 9), dh = random(r, (long) batch * hid + 9);
        int l = layers - 1;
        try (Arena arena = Arena.ofConfined(); WorkerTeam workers = new WorkerTeam(team);
             PackedSteps steps = new PackedSteps(shape, batch, team, packed ? PackedSteps.Weights.PACKED : PackedSteps.Weights.IN_PLACE)) {
            MemorySegment s1 = bf16(arena, w1), s2 = bf16(arena, w2);
            MemorySegment half = arena.allocate(2L * (h.length + dz.length), 64);
            Bf16.fromFloats(MemorySegment.ofArray(h), 0, half, 0, h.length);
            Bf16.fromFloats(MemorySegment.ofArray(dz), 0, half, h.length, dz.length);
            long hOff = 5, dzOff = h.length + 5, zOff = 9, dhOff = z.length + 9;
            int before = OneDnn.threads();
            for (int round = 0; round < 3; round++) {
                // round 0 packs w1 at version 1; round 1 offers w2 at version 1 (packed: kept, stale w1;
                // plain: read in place); round 2 packs w2 at version 2
                MemorySegment shadow = round == 0 ? s1 : s2;
                long version = round < 2 ? 1 : 2;
                float[] weights = round == 0 || (round == 1 && packed) ? w1 : w2;
                MemorySegment acts = arena.allocate(4L * (z.length + dh.length), 64);
                MemorySegment.copy(z, 0, acts, JAVA_FLOAT, 0, z.length);
                MemorySegment.copy(dh, 0, acts, JAVA_FLOAT, 4L * z.length, dh.length);
                steps.packForward(workers, l, version, shadow, wRec);
                steps.forward(workers, l, half, hOff, acts, zOff);
                steps.packBackward(workers, l, version, shadow, wRec);
                steps.backward(workers, l, half, dzOff, acts, dhOff);
                assertEquals(before, OneDnn.threads(), "the caller's OpenMP team");
                for (int i = 0; i < batch; i++) {
                    for (int j = 0; j < g; j++) {
                        double s = z[(int) zOff + i * g + j];
                        for (int p = 0; p < hid; p++) s += (double) round(h[(int) hOff + i * hid + p]) * round(weights[(int) wRec + p * g + j]);
                        assertEquals(s, acts.getAtIndex(JAVA_FLOAT, zOff + (long) i * g + j), 1e-5 * (hid + Math.abs(s)),
                                "round " + round + " forward z[" + i + "][" + j + "]");
                    }
                    for (int j = 0; j < hid; j++) {
                        double s = dh[9 + i * hid + j];
                        for (int p = 0; p < g; p++) s += (double) round(dz[5 + i * g + p]) * round(weights[(int) wRec + j * g + p]);
                        assertEquals(s, acts.getAtIndex(JAVA_FLOAT, dhOff + (long) i * hid + j), 1e-5 * (g + Math.abs(s)),
                                "round " + round + " backward dh[" + i + "][" + j + "]");
                    }
                }
            }
        }
    }

    private static float[] random(SplittableRandom r, long n) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    private static float round(float x) {
        return Bf16.toFloat(Bf16.fromFloat(x));
    }

    private static MemorySegment bf16(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(2L * x.length, 64);
        Bf16.fromFloats(MemorySegment.ofArray(x), 0, s, 0, x.length);
        return s;
    }
}
