package lstmlm.infer;

import lstmlm.data.Vocabulary;
import lstmlm.model.ModelFileException;
import lstmlm.model.ModelShape;
import lstmlm.model.SafetensorsFile;
import lstmlm.train.Checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
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
    /** TensorFlow's tutorial builds BasicLSTMCell with forget_bias = 0, and so did training. */
    static final float FORGET_BIAS = 0f;

    /**
     * Where the output projection is read from. {@link #MAPPED} (the default) reads the file's
     * [H×V] matrix in place; {@link #TRANSPOSED_COPY} copies it at load into a [V×H] heap-free
     * native buffer so each logit is one contiguous dot product (costs V·H·4 bytes of private memory).
     */
    public enum SoftmaxLayout { MAPPED, TRANSPOSED_COPY }

    private final SafetensorsFile file;
    private final Arena copies;
    private final Vocabulary vocabulary;
    final int vocab, hidden, layers;
    final MemorySegment embedding;
    final MemorySegment[] lstmWeight, lstmBias;
    final MemorySegment softmaxWeight, softmaxBias;
    final boolean transposedSoftmax;
    final int unkId, eosId;
    private final long fileBytes;
    private volatile boolean closed;

    private Model(SafetensorsFile file, SoftmaxLayout softmaxLayout, Vocabulary checked) {
        this.file = file;
        this.copies = Arena.ofShared();
        try {
            var emb = file.tensor("embedding");
            if (emb.shape().length != 2) throw bad("tensor 'embedding' is not 2-D: " + Arrays.toString(emb.shape()));
            int v = Math.toIntExact(emb.shape()[0]), h = Math.toIntExact(emb.shape()[1]);
            int l = 0;
            while (file.tensors().containsKey("lstm." + l + ".weight")) l++;
            ModelShape shape = new ModelShape(v, h, Math.max(l, 1));
            this.vocab = v;
            this.hidden = h;
            this.layers = shape.layers();
            this.vocabulary = checked != null ? checked : readVocabulary(file, v);
            if (vocabulary.size() != v) {
                throw bad("the vocabulary has " + vocabulary.size() + " words but the embedding has " + v + " rows");
            }
            this.unkId = vocabulary.unkId();
            this.eosId = vocabulary.eosId();
            this.embedding = floats("embedding", v, h);
            this.lstmWeight = new MemorySegment[layers];
            this.lstmBias = new MemorySegment[layers];
            for (int i = 0; i < layers; i++) {
                lstmWeight[i] = floats("lstm." + i + ".weight", 2L * h, 4L * h);
                lstmBias[i] = floats("lstm." + i + ".bias", 4L * h);
            }
            MemorySegment sw = floats("softmax.weight", h, v);
            this.softmaxBias = floats("softmax.bias", v);
            this.transposedSoftmax = softmaxLayout == SoftmaxLayout.TRANSPOSED_COPY;
            this.softmaxWeight = transposedSoftmax ? transpose(sw, h, v) : sw;
            this.fileBytes = file.allData().byteSize();
        } catch (RuntimeException e) {
            copies.close();
            throw e;
        }
    }

    /** Loads a model or checkpoint file written by {@code lstm train --save-path}; weights are memory-mapped. */
    public static Model load(Path path) {
        return load(path, SoftmaxLayout.MAPPED);
    }

    public static Model load(Path path, SoftmaxLayout softmaxLayout) {
        Vocabulary checked = null;
        if (isCheckpoint(path)) {
            // The one loader checks format, checksum, config, vocabulary and every shape, and ignores
            // the training state. It copies the weights into a training slab, so we keep only its
            // verdict and vocabulary and map the weights ourselves (read-only, shared, no copy).
            try (Checkpoint c = Checkpoint.load(path)) {
                checked = c.vocabulary();
            }
        }
        SafetensorsFile f = SafetensorsFile.open(path);
        try {
            return new Model(f, softmaxLayout, checked);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static boolean isCheckpoint(Path path) {
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            return Checkpoint.FORMAT.equals(f.metadata().get("format"));
        }
    }

    /** The vocabulary of a file written before checkpoints ("lstm-lm weights v1", Trainer.save). */
    private static Vocabulary readVocabulary(SafetensorsFile file, int v) {
        String words = file.metadata().get("vocabulary");
        if (words == null) {
            throw new ModelFileException("Bad model file " + file.path() + ": it has no 'vocabulary' metadata."
                    + " Use a file written by `lstm train --save-path DIR`.");
        }
        List<String> list = List.of(words.split("\n", -1));
        if (list.size() != v) {
            throw new ModelFileException("Bad model file " + file.path() + ": the vocabulary has " + list.size()
                    + " words but the embedding has " + v + " rows.");
        }
        return Vocabulary.of(list);
    }

    /** The tensor's floats, checked against the expected shape; copied to aligned memory when the file is not. */
    private MemorySegment floats(String name, long... dims) {
        var t = file.tensor(name);
        if (!Arrays.equals(t.shape(), dims)) {
            throw bad("tensor '" + name + "' has shape " + Arrays.toString(t.shape()) + ", expected "
                    + Arrays.toString(dims));
        }
        MemorySegment data = file.data(name);
        if (file.isAligned()) {
            if (data.isMapped()) data.load(); // fault the pages in now, not during the first tokens
            // The same mapped bytes seen as a plain native segment: the kernels then meet one segment
            // class only. Mixing mapped and native segments at the Vector API's load sites makes C2's
            // type profiles bimorphic; measured: softmax matvec 191 us instead of 104 us, and the LSTM
            // cell boxing its vectors (40 KB per call). Valid until close, read-only like the file.
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
        return new ModelFileException("Bad model file " + file.path() + ": " + what + ".");
    }

    /** A new independent session with a zero LSTM state. */
    public Session newSession() {
        checkOpen();
        return new Session(this);
    }

    /** A scorer that runs up to {@code maxBatch} sentences at once through the GEMMs. */
    public BatchScorer newBatchScorer(int maxBatch) {
        checkOpen();
        return new BatchScorer(this, maxBatch);
    }

    public Vocabulary vocabulary() {
        return vocabulary;
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
        return fileBytes;
    }

    /**
     * Weight bytes one streaming step must read: every LSTM weight and bias, the output projection
     * and its bias, and the one embedding row of the input word.
     */
    public long bytesReadPerToken() {
        long h = hidden, v = vocab;
        return 4 * (layers * (2 * h * 4 * h + 4 * h) + h * v + v + h);
    }

    public boolean softmaxTransposed() {
        return transposedSoftmax;
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

    boolean isClosed() {
        return closed;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("The model " + file.path() + " is closed.");
    }

    /** Unmaps the weights. Sessions and scorers of this model fail with IllegalStateException afterwards. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        copies.close(); // first: the views of the mapping die before it is unmapped
        file.close();
    }
}
