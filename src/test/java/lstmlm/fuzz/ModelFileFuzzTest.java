package lstmlm.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.modelfile.HeaderSeal;
import lstmlm.modelfile.ModelFile;
import lstmlm.modelfile.ModelFileException;
import lstmlm.modelfile.SafetensorsFile;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Model files from outside: any bytes given to {@link ModelFile#open} and {@link Model#load} are either
 * a model that works or a {@link ModelFileException} naming the file; never another exception, a JVM
 * crash in native code from a bad offset, an OutOfMemoryError or a hang.
 *
 * <p>{@link #modelFile} takes the bytes as they are: random damage, which the checksums refuse.
 * {@link #sealedModelFile} first sets the header length to where the header's JSON ends and recomputes
 * both checksums, as a crafted file would have them, so the fuzzer reaches every structural check
 * behind them (offsets, dtypes, shapes, vocabulary, config) and the inference code on whatever passes
 * them. Without the length fix-up, a mutation that grows a number in the header (a shape of 2³¹)
 * shifts the header's end past its length field and is refused as bad JSON: that is why fuzzing did
 * not find the overflowing shapes a crafted file could claim (now {@code HugeShapeTest}). The
 * dictionary ({@code dictionaries/safetensors.dict}) gives the mutator the edge integers to insert.
 */
class ModelFileFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void modelFile(byte[] bytes) {
        check(FuzzFiles.write("model.safetensors", bytes));
    }

    @FuzzTest(maxDuration = "10s")
    void sealedModelFile(byte[] bytes) {
        check(FuzzFiles.write("sealed.safetensors", HeaderSeal.sealBoth(HeaderSeal.fixLength(bytes))));
    }

    /** Edge numbers as text, beside the fuzzer's own longs: past long, fractions, signs. */
    private static final List<String> EDGES = List.of("18446744073709551616", "9223372036854775808", "4.5", "-0", "1e3",
            "2147483648", "-1");
    private static final Pattern ARRAY = Pattern.compile("\"(shape|data_offsets)\":\\[([^]]*)]");

    /**
     * Structure-aware: a valid seed file whose every shape and offset number is kept or replaced by one the
     * fuzzer picks (any long, or an edge written as text), the length field and checksums redone. It aims
     * straight at the size arithmetic that byte mutation of decimal text rarely reaches.
     */
    @FuzzTest(maxDuration = "10s")
    void headerNumbers(FuzzedDataProvider data) {
        byte[] seed = TEMPLATE;
        int headerLen = (int) ByteBuffer.wrap(seed).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        String header = new String(seed, 8, headerLen, StandardCharsets.UTF_8);
        StringBuilder edited = new StringBuilder();
        Matcher m = ARRAY.matcher(header);
        int at = 0;
        while (m.find()) {
            edited.append(header, at, m.start(2));
            String[] numbers = m.group(2).split(",", -1);
            for (int i = 0; i < numbers.length; i++) {
                if (i > 0) edited.append(',');
                if (!data.consumeBoolean()) edited.append(numbers[i]);
                else if (data.consumeBoolean()) edited.append(data.consumeLong());
                else edited.append(data.pickValue(EDGES));
            }
            at = m.end(2);
        }
        edited.append(header, at, header.length());
        byte[] text = edited.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + text.length + seed.length - 8 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(text.length).put(text).put(seed, 8 + headerLen, seed.length - 8 - headerLen);
        check(FuzzFiles.write("numbers.safetensors", HeaderSeal.sealBoth(out.array())));
    }

    private static final byte[] TEMPLATE = template();

    private static byte[] template() {
        String name = "/lstmlm/fuzz/ModelFileFuzzTestInputs/modelFile/plain-checkpoint.safetensors";
        try (var in = ModelFileFuzzTest.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("no seed " + name + " in the test resources");
            return in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void check(Path file) {
        try (Model model = Model.load(file); Session session = model.newSession()) {
            int vocab = model.vocabularySize();
            session.feed(0);
            session.feed(vocab - 1);
            float[] p = session.probabilities();
            if (p.length != vocab) throw new AssertionError("probabilities for " + p.length + " words, not " + vocab);
        } catch (ModelFileException e) {
            FuzzFiles.assertNames(e.getMessage(), file, e);
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.tensors().keySet()) {
                var bytes = f.data(name);
                if (bytes.byteSize() > 0) bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0); // an empty tensor has no byte 0
            }
        } catch (ModelFileException e) {
            FuzzFiles.assertNames(e.getMessage(), file, e);
        }
    }
}
