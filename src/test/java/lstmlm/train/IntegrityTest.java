package lstmlm.train;

import lstmlm.model.LanguageModel;
import lstmlm.modelfile.HeaderSeal;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.Quantizer;
import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The two checksums cover every byte of a file: any change is refused; files of format 1 still load. */
class IntegrityTest {
    @TempDir
    Path dir;

    private Path checkpoint() throws IOException {
        try (LanguageModel m = new LanguageModel(CheckpointTest.SHAPE)) {
            m.initialize(5, 0.1f);
            Path file = dir.resolve("good.safetensors");
            Checkpoint.write(file, CheckpointTest.CONFIG, CheckpointTest.vocabulary(31), m, CheckpointTest.progress(), Map.of());
            return file;
        }
    }

    private static int headerEnd(byte[] file) {
        return Math.toIntExact(8 + ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
    }

    @Test
    void theWriterFollowsTheDocumentedRule() throws IOException {
        byte[] bytes = Files.readAllBytes(checkpoint());
        assertArrayEquals(bytes, HeaderSeal.reseal(bytes), "header.sha256 as the independent reference computes it");
        try (ModelFile f = ModelFile.open(dir.resolve("good.safetensors"))) {
            assertTrue(f.headerVerified());
            assertEquals(ModelFile.FORMAT, f.metadata().get("format"));
        }
    }

    /** The measured gap of format 1: bit flips in the header (vocabulary, config) loaded silently. */
    @Test
    void aFlippedBitAnywhereIsRefusedWithTheFileNamed() throws IOException {
        Path good = checkpoint();
        byte[] bytes = Files.readAllBytes(good);
        int headerEnd = headerEnd(bytes);
        Path bad = dir.resolve("flipped.safetensors");
        List<Integer> positions = new ArrayList<>();
        for (int i = 0; i < headerEnd; i++) positions.add(i);                 // every header byte, one bit each
        SplittableRandom random = new SplittableRandom(13);
        for (int k = 0; k < 200; k++) positions.add(random.nextInt(headerEnd, bytes.length)); // a sample of the data
        List<String> accepted = new ArrayList<>();
        for (int at : positions) {
            byte[] flipped = bytes.clone();
            flipped[at] ^= (byte) (1 << (at * 5 % 8));
            Files.write(bad, flipped);
            try (Checkpoint c = Checkpoint.load(bad)) {
                accepted.add("byte " + at);
            } catch (ModelFileException e) {
                assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
            }
        }
        assertTrue(accepted.isEmpty(), accepted.size() + " of " + positions.size() + " flips accepted, first: "
                + accepted.subList(0, Math.min(20, accepted.size())));
        try (Checkpoint c = Checkpoint.load(good)) {
            assertEquals(31, c.vocabulary().size());
        }
    }

    /** A format-1 file (header without checksum) made from a current one: the key removed, the format set back. */
    private Path formatOne(byte[] bytes, String name, boolean keepFormat2) throws IOException {
        int headerEnd = headerEnd(bytes);
        String header = new String(bytes, 8, headerEnd - 8, StandardCharsets.UTF_8);
        String old = header.replaceFirst("\"header\\.sha256\":\"[0-9a-f]{64}\",", "");
        assertTrue(old.length() < header.length());
        if (!keepFormat2) old = old.replace(ModelFile.FORMAT, ModelFile.FORMAT_1);
        byte[] h = old.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + bytes.length - headerEnd).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(bytes, headerEnd, bytes.length - headerEnd);
        return Files.write(dir.resolve(name), b.array());
    }

    @Test
    void aFormatOneFileLoadsUnverifiedAndQuantizeBringsItUpToDate() throws IOException {
        byte[] bytes = Files.readAllBytes(checkpoint());
        Path old = formatOne(bytes, "old.safetensors", false);
        float[] expected;
        try (Checkpoint c = Checkpoint.load(dir.resolve("good.safetensors"))) {
            expected = TinyRun.weights(c);
        }
        try (Checkpoint c = Checkpoint.load(old)) {
            assertFalse(c.weights().headerVerified());
            assertArrayEquals(expected, TinyRun.weights(c));
            assertEquals(523, c.progress().globalStep(), "a format-1 checkpoint still resumes");
        }
        Path upgraded = dir.resolve("upgraded.safetensors");
        try (ModelFile f = ModelFile.open(old)) {
            Quantizer.write(f, upgraded, WeightFormat.FP32);
        }
        try (Checkpoint c = Checkpoint.load(upgraded)) {
            assertTrue(c.weights().headerVerified());
            assertArrayEquals(expected, TinyRun.weights(c));
        }
        // and its data checksum still guards it
        byte[] flipped = Files.readAllBytes(old);
        flipped[flipped.length - 3] ^= 1;
        Path bad = Files.write(dir.resolve("old-flipped.safetensors"), flipped);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoint.load(bad).close());
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains(bad.toString()), e.getMessage());
    }

    @Test
    void aCurrentFileWithoutItsHeaderChecksumIsRefused() throws IOException {
        Path stripped = formatOne(Files.readAllBytes(checkpoint()), "stripped.safetensors", true);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoint.load(stripped).close());
        assertTrue(e.getMessage().contains(stripped.toString()) && e.getMessage().contains("no 'header.sha256'"), e.getMessage());
    }
}
