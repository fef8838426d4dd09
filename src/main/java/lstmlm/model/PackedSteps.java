package lstmlm.model;

import lstmlm.modelfile.ModelShape;
import lstmlm.natives.OneDnn;
import lstmlm.natives.PackedMatmul;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import lstmlm.natives.ThreadPolicy;

/**
 * A window's per-step recurrent products in bf16: for each layer, z_t += h_{t−1}·W_rec (forward)
 * and dh += dz_{t+1}·W_recᵀ (backward), each split by columns over the team, every thread one
 * oneDNN call on one OpenMP thread over its own columns. At B = 20 rows oneDNN runs a call on one
 * thread whatever its team, so the split is what puts every core to work (docs/performance.md). A large W_rec is packed: each thread keeps its
 * columns of W_rec (or W_recᵀ) in oneDNN's blocked layout ({@link PackedMatmul}), reordered
 * from the model's bf16 mirror once per parameter version, and the steps read only that; a small
 * one is read in place ({@link #PACK_MIN_BYTES}).
 *
 * <p>The split is fixed by the team size (whole units of {@link #UNIT} columns), so a run with the
 * same thread count gives the same bits.
 */
final class PackedSteps implements WorkerTeam.RangeTask, AutoCloseable {
    /** Columns per unit of the split: whole cache lines of C. */
    static final int UNIT = 64;

    private static final int FORWARD = 0, BACKWARD = 1;

    /**
     * Below this many bytes of bf16 W_rec the steps call {@code dnnl_gemm_bf16bf16f32} on the
     * plain weights instead (each thread on its columns): a weight that fits in L2 costs little to
     * repack at each call, while the packs cost a reorder per window, the transposed one slow
     * (docs/performance.md).
     */
    static final long PACK_MIN_BYTES = 1L << 21;

    /** Whether the weights are packed (else the plain split calls). */
    private final boolean packed;
    /** [direction][chunk]: the chunk's column count (plain calls). */
    private final int[][] columns;
    private final int batch;
    /** [layer][direction][chunk]; null where a chunk has no columns, or when not {@link #packed}. */
    private final PackedMatmul[][][] mats;
    /** [direction][chunk]: the chunk's first column. */
    private final int[][] firstColumn;
    /** [layer][direction]: the model version the packs hold, -1 for none. */
    private final long[][] packedAt;
    private final int hidden;

    // the operation the team runs next
    private boolean packing;
    private int layer, direction;
    private MemorySegment a, c;
    private long aOff, cOff;
    /** [layer][direction]: where the last pack read W_rec (the plain calls read it there). */
    private final MemorySegment[][] weights;
    private final long[][] weightOffsets;
    private int callerThreads;

    /** Where the steps read W_rec: packed or in place as its size says ({@link #PACK_MIN_BYTES}), or as a test forces. */
    enum Weights { BY_SIZE, PACKED, IN_PLACE }

    /** For a window of {@code batch} rows and a team of {@code team} threads. Makes each primitive for one OpenMP thread. */
    PackedSteps(ModelShape shape, int batch, int team, Weights weightsAt) {
        int layers = shape.layers(), hid = shape.hidden(), g = 4 * hid;
        this.hidden = hid;
        this.batch = batch;
        this.packed = switch (weightsAt) {
            case BY_SIZE -> 2L * hid * g >= PACK_MIN_BYTES;
            case PACKED -> true;
            case IN_PLACE -> false;
        };
        this.mats = new PackedMatmul[layers][2][team];
        this.firstColumn = new int[2][team];
        this.columns = new int[2][team];
        this.packedAt = new long[layers][2];
        for (long[] p : packedAt) Arrays.fill(p, -1);
        this.weights = new MemorySegment[layers][2];
        this.weightOffsets = new long[layers][2];
        int before = ThreadPolicy.openMpThreads();
        ThreadPolicy.useOpenMpThreads(1);
        try {
            for (int dir = 0; dir < 2; dir++) {
                int n = dir == FORWARD ? g : hid, k = dir == FORWARD ? hid : g;
                int units = (n + UNIT - 1) / UNIT;
                for (int chunk = 0; chunk < team; chunk++) {
                    int from = Math.min(n, units * chunk / team * UNIT), to = Math.min(n, units * (chunk + 1) / team * UNIT);
                    firstColumn[dir][chunk] = from;
                    columns[dir][chunk] = to - from;
                    if (to == from || !packed) continue;
                    for (int l = 0; l < layers; l++) {
                        // forward: h[B×H]·W_rec[:, from:to] (W_rec row stride 4H); backward: dz[B×4H]·(W_rec[from:to, :])ᵀ
                        mats[l][dir][chunk] = dir == FORWARD
                                ? new PackedMatmul(PackedMatmul.Element.BF16, batch, to - from, k, hid, false, g, g, true)
                                : new PackedMatmul(PackedMatmul.Element.BF16, batch, to - from, k, g, true, g, hid, true);
                    }
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        } finally {
            ThreadPolicy.useOpenMpThreads(before);
        }
    }

    /** Packs layer l's W_rec (forward) from the bf16 mirror {@code mirror} at {@code wRec}, unless it holds this version. */
    void packForward(WorkerTeam workers, int l, long version, MemorySegment mirror, long wRec) {
        pack(workers, l, FORWARD, version, mirror, wRec);
    }

    /** Packs layer l's W_recᵀ (backward), unless it holds this version. */
    void packBackward(WorkerTeam workers, int l, long version, MemorySegment mirror, long wRec) {
        pack(workers, l, BACKWARD, version, mirror, wRec);
    }

    private void pack(WorkerTeam workers, int l, int dir, long version, MemorySegment mirror, long wRec) {
        weights[l][dir] = mirror;
        weightOffsets[l][dir] = wRec;
        if (!packed || packedAt[l][dir] == version) return;
        packing = true;
        layer = l;
        direction = dir;
        run(workers);
        packedAt[l][dir] = version;
    }

    /**
     * z_t[B×4H] += h[B×H] · W_rec, h bf16 at {@code hOff} of {@code mirror}, z float32 at {@code zOff}
     * of {@code acts}; W_rec as the last {@link #packForward} for this layer gave it.
     */
    void forward(WorkerTeam workers, int l, MemorySegment mirror, long hOff, MemorySegment acts, long zOff) {
        multiply(workers, l, FORWARD, mirror, hOff, acts, zOff);
    }

    /** dh[B×H] += dz[B×4H] · W_recᵀ, dz bf16 at {@code dzOff} of {@code mirror}, dh float32 at {@code dhOff} of {@code acts}. */
    void backward(WorkerTeam workers, int l, MemorySegment mirror, long dzOff, MemorySegment acts, long dhOff) {
        multiply(workers, l, BACKWARD, mirror, dzOff, acts, dhOff);
    }

    private void multiply(WorkerTeam workers, int l, int dir, MemorySegment a, long aOff, MemorySegment c, long cOff) {
        packing = false;
        layer = l;
        direction = dir;
        this.a = a;
        this.aOff = aOff;
        this.c = c;
        this.cOff = cOff;
        run(workers);
    }

    private void run(WorkerTeam workers) {
        callerThreads = ThreadPolicy.openMpThreads();
        workers.forRange(0, columns[direction].length, this);
    }

    @Override
    public void run(int chunk, int from, int to) {
        // one OpenMP thread per call: a worker's own setting, or the caller's, restored after its chunk
        ThreadPolicy.useOpenMpThreads(1);
        try {
            for (int i = from; i < to; i++) {
                int col = firstColumn[direction][i], cols = columns[direction][i];
                if (cols == 0) continue;
                MemorySegment b = weights[layer][direction];
                long bOff = weightOffsets[layer][direction];
                if (!packed) {
                    int hid = hidden, g = 4 * hid;
                    if (direction == FORWARD) {
                        OneDnn.gemmBf16(false, false, batch, cols, hid, 1f, a, aOff, hid, b, bOff + col, g, 1f, c, cOff + col, g);
                    } else {
                        OneDnn.gemmBf16(false, true, batch, cols, g, 1f, a, aOff, g, b, bOff + (long) col * g, g, 1f, c, cOff + col, hid);
                    }
                    continue;
                }
                PackedMatmul mm = mats[layer][direction][i];
                if (packing) {
                    // forward: columns col.. of W_rec; backward: rows col.. of W_rec, i.e. columns of W_recᵀ
                    mm.pack(b, bOff + (direction == FORWARD ? col : (long) col * 4 * hidden));
                } else {
                    mm.multiply(a, aOff, c, cOff + col);
                }
            }
        } finally {
            if (chunk == 0) ThreadPolicy.useOpenMpThreads(callerThreads);
        }
    }

    /** Bytes of all packed weights. */
    long packedBytes() {
        long s = 0;
        for (PackedMatmul[][] byLayer : mats) {
            for (PackedMatmul[] byDir : byLayer) {
                for (PackedMatmul mm : byDir) if (mm != null) s += mm.packedBytes();
            }
        }
        return s;
    }

    @Override
    public void close() {
        for (PackedMatmul[][] byLayer : mats) {
            for (PackedMatmul[] byDir : byLayer) {
                for (int i = 0; i < byDir.length; i++) {
                    if (byDir[i] != null) byDir[i].close();
                    byDir[i] = null;
                }
            }
        }
    }
}
