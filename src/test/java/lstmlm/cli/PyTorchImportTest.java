package lstmlm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.interop.StateDict;
import lstmlm.interop.TorchFileException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lstm import --from pytorch} and {@code lstm export --to pytorch} on state dicts PyTorch itself
 * wrote ({@code src/test/resources/lstmlm/interop}, made by its {@code make_fixtures.py}; the PyTorch
 * version is in expected.json). The yardstick is PyTorch's own float64 forward over the same tensors
 * (model.double()), stored beside them, so no PyTorch is needed to run this test.
 */
class PyTorchImportTest {
    private static final Path FIXTURES = Path.of("src/test/resources/lstmlm/interop");
    private static final Path CORPUS = FIXTURES.resolve("corpus");

    @TempDir
    Path dir;

    static JsonNode expected() throws IOException {
        return new ObjectMapper().readTree(FIXTURES.resolve("expected.json").toFile());
    }

    private Path importModel(String fixture) {
        Path out = dir.resolve(fixture.replace('.', '-') + ".safetensors");
        CliRun r = CliRun.of("import", "--from", "pytorch", FIXTURES.resolve(fixture).toString(), "--corpus", CORPUS.toString(),
                "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("Wrote " + out), r.out());
        return out;
    }

    /** Per step, the log-probability of the next word, and the whole last distribution, against PyTorch's float64. */
    private static void assertMatchesPyTorch(Path model, String name) throws IOException {
        JsonNode exp = expected();
        JsonNode ids = exp.get("ids"), steps = exp.get("models").get(name).get("log_probs");
        JsonNode last = exp.get("models").get(name).get("last_distribution");
        double worst = 0;
        try (Model m = Model.load(model); Session s = m.newSession()) {
            for (int t = 0; t + 1 < ids.size(); t++) {
                s.feed(ids.get(t).asInt());
                double got = s.logProbability(ids.get(t + 1).asInt()), want = steps.get(t).asDouble();
                worst = Math.max(worst, Math.abs(got - want));
            }
            float[] p = s.probabilities();
            assertEquals(last.size(), p.length);
            for (int w = 0; w < p.length; w++) worst = Math.max(worst, Math.abs(Math.log(p[w]) - last.get(w).asDouble()));
        }
        assertTrue(worst < 1e-6, name + ": log-probabilities differ from PyTorch's float64 ones by up to " + worst);
    }

    @Test
    void anUntiedTwoLayerModelGivesPyTorchsLogProbabilities() throws IOException {
        assertMatchesPyTorch(importModel("untied.pt"), "untied");
    }

    @Test
    void aTiedModelGivesPyTorchsLogProbabilities() throws IOException {
        Path model = importModel("tied.pt");
        try (var f = lstmlm.modelfile.ModelFile.open(model)) {
            assertTrue(f.shape().tied(), "encoder and decoder share one storage in tied.pt");
        }
        assertMatchesPyTorch(model, "tied");
    }

    @Test
    void theSafetensorsFormOfAStateDictImportsToTheSameModel() throws IOException {
        Path fromPt = importModel("untied.pt"), fromSafetensors = importModel("untied.safetensors");
        assertMatchesPyTorch(fromSafetensors, "untied");
        try (var a = lstmlm.modelfile.ModelFile.open(fromPt); var b = lstmlm.modelfile.ModelFile.open(fromSafetensors)) {
            for (var t : a.layout().tensors()) {
                assertTrue(a.tensor(t.name()).mismatch(b.tensor(t.name())) < 0, t.name() + " differs");
            }
        }
    }

    @Test
    void importThenExportGivesBackEveryTensorBitForBit() throws IOException {
        for (String name : List.of("untied", "tied")) {
            Path model = importModel(name + ".pt"), out = dir.resolve(name + "-back.pt");
            CliRun r = CliRun.of("export", "--to", "pytorch", model.toString(), "--out", out.toString());
            assertEquals(0, r.exit(), r.err());
            Map<String, StateDict.Tensor> original = StateDict.read(FIXTURES.resolve(name + ".pt")).tensors();
            Map<String, StateDict.Tensor> back = StateDict.read(out).tensors();
            assertEquals(List.copyOf(original.keySet()), List.copyOf(back.keySet()), name + ": names and order");
            for (var e : original.entrySet()) {
                StateDict.Tensor b = back.get(e.getKey());
                assertArrayEquals(e.getValue().shape(), b.shape(), e.getKey());
                int[] want = bits(e.getValue().values()), got = bits(b.values());
                assertArrayEquals(want, got, name + ": " + e.getKey() + " is not the same bits");
            }
            assertEquals(back.get("encoder.weight").storage().equals(back.get("decoder.weight").storage()), name.equals("tied"),
                    name + ": a tied decoder shares the encoder's storage, an untied one does not");
            // the vocabulary in id order and RNNModel's arguments beside it
            List<String> words = Files.readAllLines(dir.resolve(name + "-back.vocab.txt"), StandardCharsets.UTF_8);
            try (Model m = Model.load(model)) {
                assertEquals(m.vocabulary().words(), words);
            }
            JsonNode args = new ObjectMapper().readTree(dir.resolve(name + "-back.json").toFile());
            assertEquals(name.equals("tied"), args.get("tie_weights").asBoolean());
            assertEquals(name.equals("tied") ? 1 : 2, args.get("nlayers").asInt());
            assertEquals(0.2, args.get("dropout").asDouble(), 1e-12, "the import's default --dropout");
        }
    }

    @Test
    void aModelTrainedHereExportsWithItsBiasInBiasIhAndZerosInBiasHh() throws IOException {
        Path model = lstmlm.infer.TestModels.write(dir, 12, 6, 2, 5L, 0.2f), out = dir.resolve("here.pt");
        CliRun r = CliRun.of("export", "--to", "pytorch", model.toString(), "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        Map<String, StateDict.Tensor> t = StateDict.read(out).tensors();
        for (float x : t.get("rnn.bias_hh_l1").values()) assertEquals(0f, x);
        // and it imports back to the same model file tensors
        Files.write(dir.resolve("words.txt"), String.join("\n", lstmlm.infer.TestModels.words(12)).getBytes(StandardCharsets.UTF_8));
        Path again = dir.resolve("again.safetensors");
        r = CliRun.of("import", "--from", "pytorch", out.toString(), "--vocab", dir.resolve("words.txt").toString(), "--out", again.toString());
        assertEquals(0, r.exit(), r.err());
        try (var a = lstmlm.modelfile.ModelFile.open(model); var b = lstmlm.modelfile.ModelFile.open(again)) {
            for (var x : a.layout().tensors()) assertTrue(a.tensor(x.name()).mismatch(b.tensor(x.name())) < 0, x.name() + " differs");
        }
    }

    @Test
    void modelsThisEngineDoesNotRunAreRefusedNamingTheTensorAndShape() {
        assertRefused("gru.pt", "'rnn.weight_hh_l0' has shape [24, 8]: 3 x 8 rows is a GRU's");
        assertRefused("bidirectional.pt", "'rnn.weight_ih_l0_reverse' [32, 8] belongs to a bidirectional LSTM");
        assertRefused("emsize.pt", "the embedding size 6 differs from the hidden size 8");
        assertRefused("module.pt", "torch.save(model.state_dict()");
    }

    @Test
    void aWrongVocabularyIsRefusedWithBothSizes() throws IOException {
        Path words = dir.resolve("words.txt");
        Files.writeString(words, "a\nb\nc\n");
        CliRun r = CliRun.of("import", "--from", "pytorch", FIXTURES.resolve("untied.pt").toString(), "--vocab", words.toString(),
                "--out", dir.resolve("x.safetensors").toString());
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("has 25 words (encoder.weight's rows) but the vocabulary from word list"), r.err());
        assertFalse(Files.exists(dir.resolve("x.safetensors")));
    }

    private void assertRefused(String fixture, String says) {
        Path out = dir.resolve("refused.safetensors");
        CliRun r = CliRun.of("import", "--from", "pytorch", FIXTURES.resolve(fixture).toString(), "--corpus", CORPUS.toString(),
                "--out", out.toString());
        assertEquals(2, r.exit(), fixture + ": " + r.out());
        assertTrue(r.err().startsWith("error: ") && r.err().contains(says), fixture + ": " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void theExceptionTypeIsTheOneAnEmbedderCatches() {
        TorchFileException e = assertThrows(TorchFileException.class, () -> StateDict.read(FIXTURES.resolve("module.pt")));
        assertNotNull(e.getMessage());
        assertTrue(e instanceof lstmlm.errors.UserException);
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }
}
