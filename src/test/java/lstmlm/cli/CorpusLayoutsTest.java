package lstmlm.cli;

import lstmlm.train.TinyRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Corpora laid out as people have them train end to end: PTB's file names copied into PyTorch's
 * word_language_model layout and WikiText's, and the same files named with --train/--valid/--test.
 * From PTB's files (their first 3000 lines, so the suite stays quick) when PTB_DIR is set, else from
 * the synthetic corpus. Each run must print the same perplexities: the same words, read the same way.
 */
class CorpusLayoutsTest {
    @TempDir
    Path dir;

    @Test
    void pyTorchAndWikiTextLayoutsAndNamedFilesTrainAlike() throws IOException {
        String ptb = System.getenv("PTB_DIR");
        Path source = ptb != null && !ptb.isBlank() ? Path.of(ptb) : TinyRun.corpus(dir);
        List<String> ptbNames = List.of("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt");
        Path pytorch = Files.createDirectories(dir.resolve("pytorch")), wiki = Files.createDirectories(dir.resolve("wikitext"));
        List<String> pytorchNames = List.of("train.txt", "valid.txt", "test.txt");
        List<String> wikiNames = List.of("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens");
        for (int i = 0; i < 3; i++) {
            List<String> lines = Files.readAllLines(source.resolve(ptbNames.get(i)));
            String text = String.join("\n", lines.subList(0, Math.min(3000, lines.size()))) + "\n";
            Files.writeString(pytorch.resolve(pytorchNames.get(i)), text);
            Files.writeString(wiki.resolve(wikiNames.get(i)), text);
        }
        String[] common = {"--config", "test", "--threads", "1", "--seed", "3"};
        CliRun a = train(common, "--data-path", pytorch.toString());
        CliRun b = train(common, "--data-path", wiki.toString());
        CliRun c = train(common, "--train", pytorch.resolve("train.txt").toString(), "--valid",
                wiki.resolve("wiki.valid.tokens").toString(), "--test", pytorch.resolve("test.txt").toString());
        for (CliRun r : List.of(a, b, c)) {
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().contains("Test Perplexity: "), r.out());
        }
        assertEquals(perplexities(a.out()), perplexities(b.out()));
        assertEquals(perplexities(a.out()), perplexities(c.out()));

        CliRun half = CliRun.of("train", "--config", "test", "--train", pytorch.resolve("train.txt").toString());
        assertEquals(2, half.exit());
        assertTrue(half.err().contains("--train, --valid and --test go together"), half.err());
        CliRun none = CliRun.of("train", "--config", "test", "--data-path", dir.resolve("nothing").toString());
        assertEquals(2, none.exit());
        assertTrue(none.err().contains("Data folder not found"), none.err());
    }

    private static CliRun train(String[] common, String... data) {
        String[] args = new String[1 + common.length + data.length];
        args[0] = "train";
        System.arraycopy(common, 0, args, 1, common.length);
        System.arraycopy(data, 0, args, 1 + common.length, data.length);
        return CliRun.of(args);
    }

    private static List<String> perplexities(String out) {
        return out.lines().filter(l -> l.contains("Perplexity: ")).toList();
    }
}
