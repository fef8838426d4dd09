package lstmlm.infer;

import lstmlm.modelfile.WeightFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** docs/inference.md's examples are {@link InferenceExamples}' code, and they do what the doc says. */
class InferenceExamplesTest {
    @TempDir
    Path dir;

    /** The tagged region of the examples' source, its common indentation removed. */
    private static String region(String source, String tag) {
        Matcher m = Pattern.compile("// tag::" + tag + "\\[]\\n(.*?)\\n\\s*// end::" + tag + "\\[]", Pattern.DOTALL).matcher(source);
        assertTrue(m.find(), "no region " + tag);
        return m.group(1).stripIndent().strip();
    }

    @Test
    void theDocsBlocksAreTheCompiledExamples() throws IOException {
        String source = Files.readString(Path.of("src/test/java/lstmlm/infer/InferenceExamples.java"));
        String doc = Files.readString(Path.of("docs/inference.md"));
        for (String tag : List.of("decoder", "service")) {
            Matcher m = Pattern.compile("<!-- example: " + tag + " -->\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(doc);
            assertTrue(m.find(), "docs/inference.md has no block marked <!-- example: " + tag + " -->");
            assertEquals(region(source, tag), m.group(1).strip(),
                    "docs/inference.md's " + tag + " block differs from InferenceExamples.java: copy the region over");
        }
    }

    @Test
    void theDecoderFollowsStrongAcousticEvidence() {
        int vocab = 14; // the beam's 16-word shortlist holds every word, so strong evidence always wins
        Path file = TestModels.write(dir, vocab, 12, 2, false, 3, 0.7f, WeightFormat.INT8);
        SplittableRandom random = new SplittableRandom(2);
        int[] spoken = random.ints(9, 2, vocab).toArray();
        float[][] acoustic = new float[spoken.length][vocab];
        for (int t = 0; t < spoken.length; t++) {
            for (int w = 0; w < vocab; w++) acoustic[t][w] = w == spoken[t] ? 0f : -30f;
        }
        try (Model model = Model.load(file)) {
            assertArrayEquals(spoken, InferenceExamples.decode(model, acoustic, 1f));
        }
    }

    @Test
    void theServiceScoresEveryUserAsASessionAloneWould() {
        Path file = TestModels.write(dir, 40, 10, 2, 5, 0.6f);
        SplittableRandom random = new SplittableRandom(4);
        List<List<String>> texts = new ArrayList<>();
        for (int u = 0; u < 12; u++) {
            List<String> words = new ArrayList<>();
            for (int i = 0, n = 1 + random.nextInt(8); i < n; i++) words.add("w" + (2 + random.nextInt(38)));
            texts.add(words);
        }
        try (Model model = Model.load(file)) {
            double[] got = InferenceExamples.perplexities(model, texts);
            try (Session alone = model.newSession()) {
                for (int u = 0; u < texts.size(); u++) {
                    double expected = alone.score(texts.get(u)).perplexity();
                    assertEquals(expected, got[u], 1e-4 * expected, "user " + u);
                }
            }
        }
    }
}
