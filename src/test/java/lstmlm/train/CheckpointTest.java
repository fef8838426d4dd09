package lstmlm.train;

import lstmlm.data.Vocabulary;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.ModelShape;
import lstmlm.modelfile.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path dir;

    static final Config CONFIG = TinyRun.config();
    static final ModelShape SHAPE = new ModelShape(CONFIG.vocabSize(), CONFIG.hiddenSize(), CONFIG.numLayers());

    static Vocabulary vocabulary(int n) {
        List<String> words = new ArrayList<>();
        words.add("<eos>");
        for (int i = 1; i < n; i++) words.add("w" + i);
        return Vocabulary.of(words);
    }

    static Checkpoint.Progress progress() {
        float[] state = new float[2 * CONFIG.numLayers() * CONFIG.batchSize() * CONFIG.hiddenSize()];
        for (int i = 0; i < state.length; i++) state[i] = (float) Math.sin(i) * 0.3f;
        return new Checkpoint.Progress(-77, 1, 123, 400, 523, CONFIG.learningRate(1), 0.1 + 1.0 / 3, 615, state,
                List.of(12.345678901234567), List.of(Math.PI, Math.E).subList(0, 1), 4321.0625);
    }

    Path writeTiny(String name, Checkpoint.Progress progress) throws IOException {
        try (LanguageModel m = new LanguageModel(SHAPE)) {
            m.initialize(5, 0.1f);
            Path file = dir.resolve(name);
            Checkpoint.write(file, CONFIG, vocabulary(31), m, progress, Map.of("note", "x\"y\n"));
            return file;
        }
    }

    @Test
    void everyTensorAndMetadataFieldRoundTrips() throws IOException {
        Checkpoint.Progress p = progress();
        Path file = writeTiny("a.safetensors", p);
        try (LanguageModel expected = new LanguageModel(SHAPE); Checkpoint c = Checkpoint.load(file)) {
            expected.initialize(5, 0.1f);
            assertEquals(file, c.file());
            assertEquals(CONFIG, c.config());
            assertEquals(vocabulary(31).words(), c.vocabulary().words());
            for (ParameterLayout.Tensor t : expected.layout.tensors()) {
                long bytes = t.size() * Float.BYTES, at = t.offset() * Float.BYTES;
                assertArrayEquals(expected.params.asSlice(at, bytes).toArray(JAVA_FLOAT),
                        c.weights().tensor(t.name()).toArray(JAVA_FLOAT), t.name());
            }
            Checkpoint.Progress q = c.progress();
            assertEquals(p.seed(), q.seed());
            assertEquals(p.epoch(), q.epoch());
            assertEquals(p.step(), q.step());
            assertEquals(p.epochSize(), q.epochSize());
            assertEquals(p.globalStep(), q.globalStep());
            assertEquals(p.learningRate(), q.learningRate());
            assertEquals(p.costSum(), q.costSum()); // exact, not within a tolerance
            assertEquals(p.iterations(), q.iterations());
            assertArrayEquals(p.lstmState(), q.lstmState());
            assertEquals(p.trainPerplexities(), q.trainPerplexities());
            assertEquals(p.validPerplexities(), q.validPerplexities());
            assertEquals(p.elapsedSeconds(), q.elapsedSeconds());
            assertEquals("x\"y\n", c.metadata().get("note"));
            assertEquals("state.lstm", c.metadata().get("state.tensor"));
            assertEquals(64, c.metadata().get("tensors.sha256").length());
        }
        // a checkpoint written before elapsed_s was kept: the run's time is unknown, the rest loads
        Checkpoint.Progress untimed = new Checkpoint.Progress(p.seed(), p.epoch(), p.step(), p.epochSize(), p.globalStep(),
                p.learningRate(), p.costSum(), p.iterations(), p.lstmState(), p.trainPerplexities(), p.validPerplexities(),
                Double.NaN);
        try (Checkpoint c = Checkpoint.load(writeTiny("untimed.safetensors", untimed))) {
            assertFalse(c.metadata().containsKey("elapsed_s"));
            assertTrue(Double.isNaN(c.progress().elapsedSeconds()));
            assertEquals(p.globalStep(), c.progress().globalStep());
        }
        // a weights-only file has no position, and the loader keeps no state tensor in the model
        try (Checkpoint c = Checkpoint.load(writeTiny("w.safetensors", null))) {
            assertNull(c.progress());
            assertEquals(SHAPE, c.weights().shape());
        }
    }

    @Test
    void aFileWrittenByHandFromTheSpecLoads() throws Exception {
        // A minimal model as another tool would write it: no alignment padding, tensors out of
        // our slab order, config and vocabulary in __metadata__, SHA-256 of the data section.
        Config c = Config.fromMap("hand", Map.ofEntries(Map.entry("init_scale", "0.1"), Map.entry("learning_rate", "1"),
                Map.entry("max_grad_norm", "5"), Map.entry("num_layers", "1"), Map.entry("num_steps", "1"),
                Map.entry("hidden_size", "1"), Map.entry("max_epoch", "1"), Map.entry("max_max_epoch", "1"),
                Map.entry("keep_prob", "1"), Map.entry("lr_decay", "1"), Map.entry("batch_size", "1"),
                Map.entry("vocab_size", "2")), "test");
        // V=2, H=1: embedding [2,1], lstm.0.weight [2,4], lstm.0.bias [4], softmax.weight [1,2], softmax.bias [2]
        String[] names = {"softmax.bias", "embedding", "lstm.0.weight", "lstm.0.bias", "softmax.weight"};
        int[][] shapes = {{2}, {2, 1}, {2, 4}, {4}, {1, 2}};
        ByteBuffer data = ByteBuffer.allocate(4 * (2 + 2 + 8 + 4 + 2)).order(ByteOrder.LITTLE_ENDIAN);
        StringBuilder header = new StringBuilder("{");
        float value = 1;
        for (int i = 0; i < names.length; i++) {
            int n = Arrays.stream(shapes[i]).reduce(1, (a, b) -> a * b);
            header.append('"').append(names[i]).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(Arrays.toString(shapes[i]).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(data.position()).append(',').append(data.position() + 4 * n).append("]},");
            for (int k = 0; k < n; k++) data.putFloat(value++);
        }
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data.array()));
        header.append("\"__metadata__\":{\"format\":\"lstm-lm checkpoint 1\",\"vocabulary\":\"<eos>\\nhello\",");
        c.toMap().forEach((k, v) -> header.append("\"config.").append(k).append("\":\"").append(v).append("\","));
        header.append("\"tensors.sha256\":\"").append(sha).append("\"}}");
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + h.length + data.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(h.length).put(h).put(data.array());
        Path path = Files.write(dir.resolve("hand.safetensors"), file.array());

        try (Checkpoint cp = Checkpoint.load(path)) {
            assertEquals(List.of("<eos>", "hello"), cp.vocabulary().words());
            assertEquals(new ModelShape(2, 1, 1), cp.weights().shape());
            float[] w = TinyRun.weights(cp);
            ParameterLayout l = cp.weights().layout();
            assertEquals(1f, w[(int) l.softmaxBias]);
            assertEquals(3f, w[(int) l.embedding]);
            assertEquals(5f, w[(int) l.weight(0)]);
            assertEquals(18f, w[(int) l.softmaxWeight + 1]);
            assertNull(cp.progress());
        }
    }

    @Test
    void everyCorruptionIsAnErrorNamingTheFileAndTheProblem() throws IOException {
        Path good = writeTiny("good.safetensors", progress());
        byte[] bytes = Files.readAllBytes(good);
        long headerLen = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8);

        // wrong magic: not a safetensors header length at all
        byte[] magic = bytes.clone();
        System.arraycopy("PK\u0003\u0004junk".getBytes(StandardCharsets.ISO_8859_1), 0, magic, 0, 8);
        assertFails("magic.safetensors", magic, "header length");
        // a header that is not JSON
        assertFails("json.safetensors", withHeader(bytes, header, header.replaceFirst("\\{", "[")), "not valid JSON");
        // truncated: the last tensor's bytes cut off
        assertFails("cut.safetensors", Arrays.copyOf(bytes, bytes.length - 9), "truncated");
        assertFails("cuthead.safetensors", Arrays.copyOf(bytes, 40), "truncated");
        // one flipped bit in the data
        byte[] flipped = bytes.clone();
        flipped[flipped.length - 100] ^= 0x10;
        assertFails("flip.safetensors", flipped, "checksum mismatch");
        // an unknown dtype
        assertFails("dtype.safetensors", withHeader(bytes, header, header.replace("\"F32\"", "\"F16\"")), "dtype F16");
        // a config that contradicts the tensors' shapes (same length, so the offsets still hold)
        assertFails("shape.safetensors", withHeader(bytes, header,
                header.replace("\"config.hidden_size\":\"8\"", "\"config.hidden_size\":\"9\"")), "has shape");
        assertFails("noformat.safetensors", withHeader(bytes, header, header.replace("\"format\"", "\"formax\"")),
                "no 'format'");
        assertFails("missing.safetensors", withHeader(bytes, header, header.replace("\"softmax.bias\"", "\"softmax.bias2\"")),
                "no tensor 'softmax.bias'");
        assertFails("negtime.safetensors", withHeader(bytes, header, header.replace("\"4321.0625\"", "\"-4321.0625\"")),
                "'elapsed_s' is negative");
        assertFails("nantime.safetensors", withHeader(bytes, header, header.replace("\"4321.0625\"", "\"soon\"")),
                "'elapsed_s' is not a number");
        assertFails("nosum.safetensors", withHeader(bytes, header, header.replace("tensors.sha256", "tensors.sha257")),
                "no 'tensors.sha256'");

        // a model whose tensors do not fit its config
        Config other = CONFIG.withOverrides(Map.of("hidden_size", "16"));
        try (LanguageModel m = new LanguageModel(SHAPE)) {
            Path file = dir.resolve("contradicts.safetensors");
            Checkpoint.write(file, other, vocabulary(31), m, null, Map.of());
            ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoint.load(file));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("shape [40, 8] but its config needs [40, 16]"),
                    e.getMessage());
        }
    }

    private static byte[] withHeader(byte[] bytes, String oldHeader, String newHeader) {
        byte[] h = newHeader.getBytes(StandardCharsets.UTF_8);
        int dataStart = 8 + oldHeader.getBytes(StandardCharsets.UTF_8).length;
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + bytes.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(bytes, dataStart, bytes.length - dataStart);
        // sealed again, as a crafted file would be: the checks behind the header checksum are what is tested here
        return lstmlm.modelfile.HeaderSeal.reseal(b.array());
    }

    private void assertFails(String name, byte[] content, String fragment) throws IOException {
        Path file = Files.write(dir.resolve(name), content);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoint.load(file).close(), name);
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(fragment),
                name + ": " + e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void aTiedModelStoresItsEmbeddingOnceAndSaysSo() throws Exception {
        Config tied = Config.load("test", java.util.Map.of("vocab_size", "7", "hidden_size", "3", "tie_weights", "true"));
        java.nio.file.Path file = dir.resolve("tied.safetensors");
        try (LanguageModel m = new LanguageModel(tied.shape())) {
            m.initialize(2, 0.5f);
            Checkpoint.write(file, tied, lstmlm.data.Vocabulary.of(java.util.List.of("<unk>", "<eos>", "a", "b", "c", "d", "e")),
                    m, null, java.util.Map.of());
        }
        try (lstmlm.modelfile.SafetensorsFile f = lstmlm.modelfile.SafetensorsFile.open(file)) {
            assertTrue(!f.tensors().containsKey("softmax.weight"), "stored once, as 'embedding'");
            assertTrue(f.metadata().get("softmax.weight").contains("transpose of 'embedding'"), f.metadata().toString());
        }
        try (Checkpoint c = Checkpoint.load(file)) {
            assertTrue(c.config().tieWeights() && c.weights().shape().tied());
        }
    }
}
