package lstmlm.infer;

import lstmlm.data.Vocabulary;
import lstmlm.model.LayerSequence;
import lstmlm.modelfile.FileCheck;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.WeightFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * A trained language model loaded for inference: the weights stay in the memory-mapped file,
 * read-only, and are shared by every {@link Session} and {@link BatchScorer} of every thread.
 * A model is safe to use from many threads at once; each session is for one thread at a time.
 *
 * <pre>{@code
 * try (Model model = Model.load(Path.of("model.safetensors"));
 *      Session s = model.newSession()) {
 *     s.feed("<eos>");
 *     s.feed("the");
 *     double lp = s.logProbability("company");
 * }
 * }</pre>
 */
public final class Model implements AutoCloseable {
    /**
     * Where the output projection is read from. {@link #MAPPED} (the default) reads the file's
     * [H×V] matrix in place; {@link #TRANSPOSED_COPY} copies it at load into a [V×H] heap-free
     * native buffer so each logit is one contiguous dot product (costs V·H·4 bytes of private memory).
     */
    public enum SoftmaxLayout { MAPPED, TRANSPOSED_COPY }

    private final ModelFile file;
    private final Arena copies;
    private final Vocabulary vocabulary;
    final int vocab, hidden, layers;
    /** How the weight matrices are stored: fp32, bf16 or int8 ({@link WeightFormat}). */
    final WeightFormat format;
    /** fp32 weights for the batch scorer's GEMMs: the mapped ones, or a dequantized copy made on first use. */
    private volatile LayerSequence.Fp32 fp32;
    /**
     * {@link #fp32}'s matrices packed for oneDNN's matmul, per OpenMP team size (oneDNN's packed layout
     * depends on it), made on first use by a thread of that size; none once oneDNN is found absent.
     */
    private final java.util.concurrent.ConcurrentHashMap<Integer, LayerSequence.PackedFp32> packs =
            new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean noPacks;
    /** What the products of several rows read: {@link #fp32()} and {@link #packedFp32()}. */
    final LayerSequence.GemmWeights gemmWeights = new LayerSequence.GemmWeights() {
        @Override
        public LayerSequence.Fp32 fp32() {
            return Model.this.fp32();
        }

        @Override
        public LayerSequence.PackedFp32 packed() {
            return packedFp32();
        }
    };
    /** The weight matrices in {@link #format} (int8 with their per-output scales), as the layer sequence reads them. */
    final LayerSequence.Weights weights;
    /** max(4H, V) zeros, read-only: the "no bias" of the kernels that take one. */
    final MemorySegment zeros;
    final int unkId, eosId;
    private volatile boolean closed;
    /** Work between {@link #enter} and {@link #leave}: native code reading the weights by address. */
    private final java.util.concurrent.atomic.AtomicInteger nativeUsers = new java.util.concurrent.atomic.AtomicInteger();
    /** Native scratch of sessions, and of batch scorers per batch size, reused as they close. */
    final ScratchPool sessionScratch;
    private final java.util.concurrent.ConcurrentHashMap<Integer, ScratchPool> scorerScratch = new java.util.concurrent.ConcurrentHashMap<>();

    private Model(ModelFile file, SoftmaxLayout softmaxLayout) {
        this.file = file;
        this.copies = Arena.ofShared();
        try {
            ModelShape shape = file.shape();
            this.vocab = shape.vocab();
            this.hidden = shape.hidden();
            this.layers = shape.layers();
            this.sessionScratch = new ScratchPool(Session.scratchBytes(layers, hidden, vocab), ScratchPool.MAX_POOLED_BYTES);
            this.vocabulary = file.vocabulary();
            if (vocabulary.size() != vocab) {
                throw bad("the vocabulary has " + vocabulary.size() + " words but the model has " + vocab
                        + " output classes (vocab_size); inference needs a word for every class");
            }
            this.unkId = vocabulary.unkId();
            this.eosId = vocabulary.eosId();
            this.format = file.format();
            if (format != WeightFormat.FP32 && softmaxLayout == SoftmaxLayout.TRANSPOSED_COPY && !shape.tied()) {
                throw new IllegalArgumentException("SoftmaxLayout.TRANSPOSED_COPY copies fp32 weights; " + file.path()
                        + " is " + format.key() + ". Load it with SoftmaxLayout.MAPPED.");
            }
            MemorySegment embedding = tensor("embedding"), embeddingScale = scale("embedding");
            MemorySegment[] lstmWeight = new MemorySegment[layers], lstmScale = new MemorySegment[layers];
            MemorySegment[] lstmBias = new MemorySegment[layers];
            for (int i = 0; i < layers; i++) {
                lstmWeight[i] = tensor("lstm." + i + ".weight");
                lstmScale[i] = scale("lstm." + i + ".weight");
                lstmBias[i] = tensor("lstm." + i + ".bias");
            }
            MemorySegment softmaxBias, softmaxWeight, softmaxScale;
            boolean transposedSoftmax;
            LayerSequence.Adaptive adaptive = null;
            if (shape.adaptive() != null) {
                var a = shape.adaptive();
                MemorySegment[] proj = new MemorySegment[a.clusters()], weight = new MemorySegment[a.clusters()],
                        bias = new MemorySegment[a.clusters()];
                // the output layer runs from fp32: a compact file's head and cluster weights widened here
                // (a small share of the model: the head and the narrow clusters), its LSTM read in place
                boolean widen = format != WeightFormat.FP32;
                java.util.function.Function<String, MemorySegment> read = name -> widen ? file.widened(name, copies) : tensor(name);
                for (int i = 0; i < a.clusters(); i++) {
                    proj[i] = read.apply("softmax.tail." + i + ".proj");
                    weight[i] = read.apply("softmax.tail." + i + ".weight");
                    bias[i] = read.apply("softmax.tail." + i + ".bias");
                }
                adaptive = new LayerSequence.Adaptive(a, read.apply("softmax.head.weight"), read.apply("softmax.head.bias"), proj, weight, bias);
                softmaxWeight = softmaxScale = softmaxBias = null;
                transposedSoftmax = false;
            } else if (shape.tied()) {
                softmaxBias = tensor("softmax.bias");
                // the output projection is the embedding [V×H]: already the transposed layout, one dot product a
                // logit; its per-row int8 scales are per output there too
                transposedSoftmax = true;
                softmaxWeight = embedding;
                softmaxScale = embeddingScale;
            } else {
                softmaxBias = tensor("softmax.bias");
                MemorySegment sw = tensor("softmax.weight");
                transposedSoftmax = softmaxLayout == SoftmaxLayout.TRANSPOSED_COPY;
                softmaxWeight = transposedSoftmax ? transpose(sw, hidden, vocab) : sw;
                softmaxScale = scale("softmax.weight");
            }
            this.zeros = copies.allocate(4L * Math.max(4L * hidden, vocab), 64).asReadOnly();
            this.weights = new LayerSequence.Weights(format, vocab, hidden, layers, embedding, embeddingScale, lstmWeight,
                    lstmScale, lstmBias, softmaxWeight, softmaxScale, softmaxBias, transposedSoftmax, zeros, adaptive);
        } catch (RuntimeException e) {
            copies.close();
            throw e;
        }
    }

    /**
     * Loads a model or checkpoint file written by {@code lstm train --save-path}: opened, checked
     * (format, checksum, shapes, vocabulary) and memory-mapped once; the weights are read in place.
     */
    public static Model load(Path path) {
        return load(path, SoftmaxLayout.MAPPED);
    }

    public static Model load(Path path, SoftmaxLayout softmaxLayout) {
        ModelFile f = ModelFile.open(path);
        try {
            return new Model(f, softmaxLayout);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** An int8 matrix's scales; null in the other formats. */
    private MemorySegment scale(String matrix) {
        return format == WeightFormat.INT8 ? tensor(matrix + WeightFormat.SCALE_SUFFIX) : null;
    }

    /** The tensor's elements (ModelFile checked shape and type); copied to aligned memory when the file is not aligned. */
    private MemorySegment tensor(String name) {
        MemorySegment data = file.tensor(name);
        if (file.safetensors().isAligned()) {
            if (data.isMapped()) data.load(); // fault the pages in now, not during the first tokens
            // The same mapped bytes seen as a plain native segment: the kernels then meet one segment
            // class only: mixing mapped and native segments at the Vector API's load sites makes C2's
            // type profiles bimorphic, and the kernels slow down and box (docs/performance.md).
            // Valid until close, read-only like the file.
            return MemorySegment.ofAddress(data.address()).reinterpret(data.byteSize(), copies, null).asReadOnly();
        }
        MemorySegment copy = copies.allocate(data.byteSize(), 64);
        copy.copyFrom(data);
        return copy.asReadOnly();
    }

    private MemorySegment transpose(MemorySegment w, int rows, int cols) {
        MemorySegment t = copies.allocate((long) rows * cols * 4, 64);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t.setAtIndex(JAVA_FLOAT, (long) c * rows + r, w.getAtIndex(JAVA_FLOAT, (long) r * cols + c));
            }
        }
        return t.asReadOnly();
    }

    private ModelFileException bad(String what) {
        return FileCheck.modelFile(file.path()).bad(what);
    }


    /**
     * fp32 weights for GEMMs: an fp32 file's own (mapped), or, for bf16 and int8 files, a copy widened
     * and scaled back once, on first use, and kept until close (V·H + L·8H² + H·V floats).
     */
    LayerSequence.Fp32 fp32() {
        LayerSequence.Fp32 f = fp32;
        if (f != null) return f;
        synchronized (this) {
            checkOpen();
            if (fp32 != null) return fp32;
            if (format == WeightFormat.FP32) {
                fp32 = new LayerSequence.Fp32(weights.embedding(), weights.lstmWeight(), weights.softmaxWeight(),
                        weights.transposedSoftmax());
            } else {
                lstmlm.modelfile.ParameterLayout layout = file.layout();
                MemorySegment all = copies.allocate(layout.size * 4, 64);
                file.copyInto(all);
                MemorySegment[] w = new MemorySegment[layers];
                for (int i = 0; i < layers; i++) w[i] = all.asSlice(layout.weight(i) * 4, 8L * hidden * hidden * 4).asReadOnly();
                MemorySegment emb = all.asSlice(layout.embedding * 4, (long) vocab * hidden * 4).asReadOnly();
                boolean tied = file.shape().tied();
                MemorySegment sw = tied ? emb : file.shape().adaptive() != null ? null // its output layer is in weights.adaptive()
                        : all.asSlice(layout.softmaxWeight * 4, (long) hidden * vocab * 4).asReadOnly();
                fp32 = new LayerSequence.Fp32(emb, w, sw, tied);
            }
            return fp32;
        }
    }

    /**
     * The fp32 matrices packed for oneDNN's matmul as the calling thread's OpenMP team multiplies
     * them, made on first use (a batch of more than a few rows) and kept until close: another
     * V·H + L·8H² floats for each team size in use. Null where oneDNN is not on the class path or
     * has no blocked matmul for this CPU; the batches then run OpenBLAS. Allocates nothing once made
     * (for teams of up to 127 threads, whose boxed sizes the JDK caches).
     */
    LayerSequence.PackedFp32 packedFp32() {
        if (noPacks) return null;
        if (!lstmlm.natives.OneDnn.available()) {
            noPacks = true;
            return null;
        }
        int team = lstmlm.natives.ThreadPolicy.openMpThreads();
        LayerSequence.PackedFp32 p = packs.get(team);
        if (p != null) return p;
        synchronized (this) {
            checkOpen();
            p = packs.get(team);
            if (p == null && !noPacks) {
                p = LayerSequence.PackedFp32.pack(fp32(), layers, hidden, vocab);
                if (p == null) noPacks = true;
                else packs.put(team, p);
            }
            return p;
        }
    }

    /** How this model's weight matrices are stored. */
    public WeightFormat weightFormat() {
        return format;
    }

    /** A new independent session with a zero LSTM state; its steps run on the calling thread. */
    public Session newSession() {
        checkOpen();
        return new Session(this);
    }

    /**
     * A new independent session whose steps split each product over {@code threads} (the calling thread
     * and its helpers, when no other session is using them): lower latency for one stream, the same
     * results bit for bit.
     */
    public Session newSession(StepThreads threads) {
        checkOpen();
        return new Session(this, null, threads);
    }

    /** A batch of up to {@code capacity} streams stepped together ({@link StepBatch}). */
    public StepBatch newStepBatch(int capacity) {
        checkOpen();
        return new StepBatch(this, capacity, LayerSequence.ColumnSplit.ALONE);
    }

    /**
     * The same, its rows' normalisers (one pass over the vocabulary each) split over {@code threads}
     * when they are asked for; the GEMMs stay on the calling thread's OpenMP team. The same results
     * bit for bit.
     */
    public StepBatch newStepBatch(int capacity, StepThreads threads) {
        checkOpen();
        return new StepBatch(this, capacity, threads);
    }

    /** A scorer that runs up to {@code maxBatch} sentences at once through the GEMMs. */
    public BatchScorer newBatchScorer(int maxBatch) {
        checkOpen();
        return new BatchScorer(this, maxBatch);
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    /** Whether the file's header was checked against its checksum: false only for files of the older format 1. */
    public boolean headerVerified() {
        return file.headerVerified();
    }

    public int vocabularySize() {
        return vocab;
    }

    public int hiddenSize() {
        return hidden;
    }

    public int layers() {
        return layers;
    }

    public Path path() {
        return file.path();
    }

    /** Bytes of tensor data in the file (all weights, embedding included). */
    public long fileBytes() {
        return file.tensorBytes();
    }

    /**
     * Weight bytes one streaming step must read: every LSTM weight and bias, the output projection
     * and its bias, and the one embedding row of the input word (already read with the projection when tied).
     */
    public long bytesReadPerToken() {
        long h = hidden, v = vocab, w = format.matrixType.bytes;
        if (file.shape().adaptive() != null) { // the layers in the file's format; the output layer, from the head on, in fp32
            lstmlm.modelfile.ParameterLayout layout = file.layout();
            long lstmScales = format == WeightFormat.INT8 ? 4L * layers * 4 * h : 0;
            return w * (layers * 2 * h * 4 * h + h) + 4 * (layers * 4 * h) + lstmScales + 4 * (layout.size - layout.headWeight);
        }
        long scales = format == WeightFormat.INT8 ? 4 * (layers * 4 * h + v + (file.shape().tied() ? 0 : 1)) : 0;
        return w * (layers * 2 * h * 4 * h + h * v + (file.shape().tied() ? 0 : h)) + 4 * (layers * 4 * h + v) + scales;
    }

    /**
     * Floating-point operations of one streaming step with the whole distribution (2 per multiply-add):
     * every layer's [x, h] · W (2H × 4H) and the output layer (H × V; adaptive: the head and every
     * cluster's projection and words). The gates, softmax and conversions are not counted.
     */
    public long flopsPerToken() {
        long h = hidden, lstm = 2L * layers * (2 * h) * (4 * h);
        var a = file.shape().adaptive();
        if (a == null) return lstm + 2L * h * vocab;
        long out = 2L * h * a.headSize();
        for (int i = 0; i < a.clusters(); i++) {
            long d = a.projection(i, hidden);
            out += 2L * h * d + 2L * d * a.size(i, vocab);
        }
        return lstm + out;
    }

    public boolean softmaxTransposed() {
        return weights.transposedSoftmax();
    }

    /** The id of a word; words outside the vocabulary map to {@code <unk>} (an error when there is none). */
    public int idOrUnk(String word) {
        int id = vocabulary.id(word);
        if (id >= 0) return id;
        if (unkId < 0) {
            throw new IllegalArgumentException("The word '" + word + "' is not in the vocabulary, and the vocabulary"
                    + " has no <unk> to stand in for it.");
        }
        return unkId;
    }

    /** A sentence's words as ids, and how many were outside the vocabulary (each then {@code <unk>}). */
    public record Ids(int[] ids, int unknown) {}

    /** The ids of {@code words}; words outside the vocabulary become {@code <unk>} and are counted. */
    public Ids ids(List<String> words) {
        int[] ids = new int[words.size()];
        int unknown = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = vocabulary.id(words.get(i));
            if (id < 0) {
                unknown++;
                id = idOrUnk(words.get(i));
            }
            ids[i] = id;
        }
        return new Ids(ids, unknown);
    }

    /** {@code <eos>} and then the ids of {@code words}: a sentence start followed by them, as a prompt is fed. */
    public Ids afterEos(List<String> words) {
        Ids w = ids(words);
        int[] ids = new int[w.ids().length + 1];
        ids[0] = eosIdOrThrow();
        System.arraycopy(w.ids(), 0, ids, 1, w.ids().length);
        return new Ids(ids, w.unknown());
    }

    /** The word of an id, checked. */
    public String word(int id) {
        checkId(id);
        return vocabulary.word(id);
    }

    void checkId(int id) {
        if (id < 0 || id >= vocab) {
            throw new IndexOutOfBoundsException("Word id " + id + " is out of range: the vocabulary has ids 0.."
                    + (vocab - 1) + ".");
        }
    }

    int eosIdOrThrow() {
        if (eosId < 0) {
            throw new IllegalStateException("The vocabulary has no <eos>, so sentences have no boundary to start from.");
        }
        return eosId;
    }

    /** The scratch pool of batch scorers of {@code maxBatch} rows. */
    ScratchPool scorerScratch(int maxBatch) {
        return scorerScratch.computeIfAbsent(maxBatch,
                b -> new ScratchPool(BatchScorer.scratchBytes(b, layers, hidden, vocab), ScratchPool.MAX_POOLED_BYTES));
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("The model " + file.path() + " is closed.");
    }

    /**
     * Starts work that hands the weights' addresses to native code (GEMMs, oneDNN's matmul), which
     * an unmapping under it would crash: {@link #close} waits until each such work has called
     * {@link #leave}. Throws, as {@link #checkOpen}, once the model is closed. Allocates nothing.
     */
    void enter() {
        nativeUsers.incrementAndGet();
        if (closed) {
            leave();
            checkOpen();
        }
    }

    /** Ends what {@link #enter} started; call it in a finally block. */
    void leave() {
        if (nativeUsers.decrementAndGet() == 0 && closed) {
            synchronized (nativeUsers) {
                nativeUsers.notifyAll();
            }
        }
    }

    /**
     * Unmaps the weights, once the batched steps and scorers running on other threads have finished
     * their native products (the Java kernels of sessions stop with an IllegalStateException at their
     * next read instead). Sessions, batches and scorers of this model fail with IllegalStateException
     * afterwards. Idempotent; a second close while the first waits returns at once.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true; // from here enter() refuses, so the count can only fall
        }
        boolean interrupted = false;
        synchronized (nativeUsers) {
            while (nativeUsers.get() > 0) {
                try {
                    nativeUsers.wait();
                } catch (InterruptedException e) {
                    interrupted = true; // unmapping under native code is not an option: wait on, say so after
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        synchronized (this) {
            release();
        }
    }

    private void release() {
        sessionScratch.clear();
        scorerScratch.clear();
        for (LayerSequence.PackedFp32 p : packs.values()) p.close();
        packs.clear();
        copies.close(); // first: the views of the mapping die before it is unmapped
        file.close();
    }
}
