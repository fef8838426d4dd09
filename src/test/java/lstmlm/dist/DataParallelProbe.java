package lstmlm.dist;

import lstmlm.data.BatchProducer;
import lstmlm.kernels.Dropout;
import lstmlm.model.DropoutPlan;
import lstmlm.model.Engine;
import lstmlm.model.Precision;
import lstmlm.model.Window;
import lstmlm.modelfile.ModelShape;
import lstmlm.natives.Communicator;
import lstmlm.natives.Mpi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * A few training windows of a small model, data-parallel over the ranks of a communicator: each rank
 * trains its rows of the global batch, the gradients are summed, every rank updates. Run in-process
 * with {@link Communicator#SINGLE} it is the single-process reference; {@link #main} runs it as one
 * MPI rank (under mpirun) and writes what the test compares.
 */
public final class DataParallelProbe {
    static final int BATCH = 20, STEPS = 5, VOCAB = 50, HIDDEN = 16, LAYERS = 2;
    static final long SEED = 3;
    static final float LEARNING_RATE = 1f, MAX_NORM = 0.5f, INIT = 0.1f;

    /** Per window the global loss (batch mean, summed over steps) and the norm before clipping; the final weights. */
    record Result(double[] losses, double[] norms, float[] params) {}

    /**
     * TensorFlow's dropout, untied ("tf"); or variational, recurrent and word dropout, tied, with weight decay ("vd");
     * or TensorFlow's dropout with an adaptive softmax of two tail clusters, the second a single word that a rank's
     * rows miss in about a third of the windows, so the ranks sum zero and non-zero cluster gradients, and the
     * clusters' units dropped ("adaptive").
     */
    static Result run(Communicator comm, String variant, int windows) {
        boolean vd = variant.equals("vd");
        var adaptive = variant.equals("adaptive") ? new lstmlm.modelfile.AdaptiveSoftmax(java.util.List.of(10, 49), 2) : null;
        DropoutPlan dropouts = vd ? new DropoutPlan(0.7f, 0.8f, 0.6f, 0.8f, 0.9f, true) : DropoutPlan.tensorFlow(0.7f);
        if (adaptive != null) dropouts = dropouts.withTail(0.6f); // each rank's gathered rows draw the global window's tail masks
        float weightDecay = vd ? 1e-3f : 0f;
        int first = comm.rank() * BATCH / comm.size(), rows = (comm.rank() + 1) * BATCH / comm.size() - first;
        int[] ids = new SplittableRandom(7).ints((long) BATCH * (windows * STEPS + 2), 0, VOCAB).toArray();
        BatchProducer producer = new BatchProducer(ids, BATCH, STEPS);
        double[] losses = new double[windows], norms = new double[windows];
        try (Engine engine = new Engine(new ModelShape(VOCAB, HIDDEN, LAYERS, vd, adaptive), 1, Precision.FP32)) {
            engine.model().initialize(SEED, INIT);
            Window w = comm.size() == 1 ? engine.newWindow(BATCH, STEPS, dropouts)
                    : engine.newWindow(first, rows, BATCH, STEPS, dropouts);
            for (int i = 0; i < windows; i++) {
                producer.window(i, first, rows, w.inputs, w.targets);
                double[] loss = {engine.trainWindow(w, dropouts, Dropout.splitSeed(SEED, i))};
                comm.allreduceSum(loss);
                losses[i] = loss[0] / BATCH;
                norms[i] = engine.update(LEARNING_RATE, MAX_NORM, weightDecay, comm);
            }
            return new Result(losses, norms, engine.model().params.toArray(JAVA_FLOAT));
        }
    }

    /** VARIANT WINDOWS OUT_DIR: runs as an MPI rank and writes OUT_DIR/rank-R.txt (losses, norms) and rank-R.f32 (weights). */
    public static void main(String[] args) throws IOException {
        try (Mpi mpi = Mpi.init()) {
            Result r = run(mpi, args[0], Integer.parseInt(args[1]));
            Path out = Path.of(args[2]);
            StringBuilder sb = new StringBuilder(mpi.describe()).append('\n');
            for (int i = 0; i < r.losses().length; i++) {
                sb.append(Double.toHexString(r.losses()[i])).append(' ').append(Double.toHexString(r.norms()[i])).append('\n');
            }
            Files.writeString(out.resolve("rank-" + mpi.rank() + ".txt"), sb);
            ByteBuffer b = ByteBuffer.allocate(r.params().length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(r.params());
            Files.write(out.resolve("rank-" + mpi.rank() + ".f32"), b.array());
        }
    }
}
