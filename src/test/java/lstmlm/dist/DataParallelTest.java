package lstmlm.dist;

import lstmlm.natives.Communicator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data-parallel training is the single-process run: two MPI ranks with 10 rows each of a batch of 20
 * against one process with all 20 (both on one thread, same seed, masks keyed by global row), over
 * windows where clipping fires and where it does not. Losses and norms agree to 1e-6 relative,
 * weights to 1e-5, and the two ranks' weights are bit-identical. Needs {@code mpirun} (Open MPI:
 * {@code apt-get install openmpi-bin}); {@code .ci/run} installs it. Without it the test is skipped,
 * and the one-rank path is still checked against the plain update.
 */
class DataParallelTest {
    static final int WINDOWS = 24;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"tf", "vd", "adaptive"})
    void twoRanksTrainExactlyAsOneProcess(String variant) throws Exception {
        String mpirun = MpiLaunch.mpirunOrSkip();
        DataParallelProbe.Result single = DataParallelProbe.run(Communicator.SINGLE, variant, WINDOWS);
        long clipped = java.util.Arrays.stream(single.norms()).filter(n -> n > DataParallelProbe.MAX_NORM).count();
        assertTrue(clipped > 0 && clipped < WINDOWS, "clipping must fire in some windows and not all: " + clipped + " of " + WINDOWS + ", norms " + java.util.Arrays.toString(single.norms()));

        Process p = new ProcessBuilder(command(mpirun, variant)).redirectErrorStream(true)
                .redirectOutput(dir.resolve("mpirun.log").toFile()).start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String log = Files.readString(dir.resolve("mpirun.log"), StandardCharsets.UTF_8);
        if (!done) p.destroyForcibly();
        assertTrue(done, "mpirun did not finish in 300 s:\n" + log);
        assertEquals(0, p.exitValue(), log);

        float[][] weights = new float[2][];
        for (int rank = 0; rank < 2; rank++) {
            List<String> lines = Files.readAllLines(dir.resolve("rank-" + rank + ".txt"));
            assertTrue(lines.getFirst().contains("rank " + rank + " of 2"), lines.getFirst());
            for (int i = 0; i < WINDOWS; i++) {
                String[] f = lines.get(i + 1).split(" ");
                double loss = Double.parseDouble(f[0]), norm = Double.parseDouble(f[1]);
                assertEquals(single.losses()[i], loss, 1e-6 * Math.abs(single.losses()[i]), "loss of window " + i + ", rank " + rank);
                assertEquals(single.norms()[i], norm, 1e-6 * single.norms()[i], "norm of window " + i + ", rank " + rank);
            }
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("rank-" + rank + ".f32"))).order(ByteOrder.LITTLE_ENDIAN);
            weights[rank] = new float[b.remaining() / 4];
            b.asFloatBuffer().get(weights[rank]);
        }
        assertArrayEquals(weights[0], weights[1], "the ranks' weights must be bit-identical");
        float[] ref = single.params();
        assertEquals(ref.length, weights[0].length);
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(ref[i] - weights[0][i]) / Math.max(1, Math.abs(ref[i]));
            worst = Math.max(worst, err);
        }
        assertTrue(worst <= 1e-5, "weights differ by " + worst);
        System.out.printf("data-parallel %s: %d windows (%d clipped), 2 ranks vs 1 process: weights within %.2e, ranks bit-identical%n",
                variant, WINDOWS, clipped, worst);
    }

    /** One rank is the plain update: the data-parallel path adds nothing when there is no one to add. */
    @Test
    void oneRankIsThePlainRun() {
        DataParallelProbe.Result a = DataParallelProbe.run(Communicator.SINGLE, "vd", 6);
        DataParallelProbe.Result b = DataParallelProbe.run(Communicator.SINGLE, "vd", 6);
        assertArrayEquals(a.params(), b.params());
        assertArrayEquals(a.losses(), b.losses());
    }

    private List<String> command(String mpirun, String variant) {
        return MpiLaunch.twoRanks(mpirun, DataParallelProbe.class.getName(), List.of(variant, Integer.toString(WINDOWS), dir.toString()));
    }
}
