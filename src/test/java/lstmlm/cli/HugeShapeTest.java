package lstmlm.cli;

import lstmlm.data.Vocabulary;
import lstmlm.infer.Model;
import lstmlm.model.LanguageModel;
import lstmlm.modelfile.HeaderSeal;
import lstmlm.modelfile.ModelFileException;
import lstmlm.train.Checkpoint;
import lstmlm.train.Config;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model file whose header claims a tensor shape no file can hold, with both checksums recomputed as a
 * crafted file would have them: every reader refuses it with one line naming the file, never an
 * arithmetic overflow's stack trace.
 */
class HugeShapeTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"[2147483648,2147483648]", "[4611686018427387904,4]", "[-1,4]", "[4.5,4]",
            "[18446744073709551616,4]"})
    void aTensorShapeThatOverflowsIsABadModelFileEverywhere(String shape) throws IOException {
        Path file = withShape(model(), "embedding", shape);
        Path text = Files.writeString(dir.resolve("text.txt"), "a b\n");
        for (String[] args : List.of(
                new String[]{"eval", "--model", file.toString(), "--file", text.toString(), "--threads", "1"},
                new String[]{"score", "--model", file.toString(), text.toString()})) {
            CliRun run = CliRun.of(args);
            assertEquals(2, run.exit(), args[0] + " " + shape + ": " + run.err());
            String err = run.err().strip();
            assertEquals(1, err.lines().count(), args[0] + " printed more than one line: " + err);
            assertTrue(err.startsWith("error: Bad model file " + file + ": tensor 'embedding' has"), err);
        }
        ModelFileException e = assertThrows(ModelFileException.class, () -> Model.load(file).close());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'embedding'"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"2147483648", "-3", "99999999999999999999"})
    void aConfigSizeOutsideAnIntIsABadModelFile(String hidden) throws IOException {
        Path file = withMetadata(model(), "config.hidden_size", hidden);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Model.load(file).close());
        assertTrue(e.getMessage().startsWith("Bad model file " + file + ": metadata 'config.hidden_size'"), e.getMessage());
    }

    private Path model() throws IOException {
        Config config = Config.load("test", Map.of("vocab_size", "4", "hidden_size", "4", "num_layers", "1"));
        try (LanguageModel m = new LanguageModel(config.shape())) {
            m.initialize(3, 0.1f);
            Path file = dir.resolve("model.safetensors");
            Checkpoint.write(file, config, Vocabulary.of(List.of("<unk>", "<eos>", "a", "b")), m, null, Map.of());
            return file;
        }
    }

    /** The file with tensor {@code name}'s shape written as {@code shape}, the length field and both checksums redone. */
    private Path withShape(Path file, String name, String shape) throws IOException {
        return edit(file, Pattern.compile("(\"" + name + "\":\\{[^}]*\"shape\":)\\[[^]]*]"), "$1" + Matcher.quoteReplacement(shape));
    }

    private Path withMetadata(Path file, String key, String value) throws IOException {
        return edit(file, Pattern.compile("(\"" + Pattern.quote(key) + "\":\")[^\"]*\""), "$1" + value + "\"");
    }

    private Path edit(Path file, Pattern pattern, String replacement) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int headerLen = Math.toIntExact(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
        String header = new String(bytes, 8, headerLen, StandardCharsets.UTF_8);
        Matcher m = pattern.matcher(header);
        assertTrue(m.find(), pattern + " not in " + header);
        byte[] edited = m.replaceFirst(replacement).getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + edited.length + bytes.length - 8 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(edited.length).put(edited).put(bytes, 8 + headerLen, bytes.length - 8 - headerLen);
        Path crafted = dir.resolve("crafted-" + Integer.toHexString(replacement.hashCode()) + ".safetensors");
        Files.write(crafted, HeaderSeal.sealBoth(out.array()));
        return crafted;
    }
}
