import lstmlm.data.Corpus;
import lstmlm.data.CorpusFiles;
import lstmlm.data.VocabularyLimits;
import lstmlm.model.ProcessMemory;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * What reading a large corpus costs in memory (scripts/corpus-memory.sh runs it).
 *
 *   CorpusMemory generate DIR MB   writes DIR/{train,valid,test}.txt (PyTorch's layout): MB megabytes
 *                                  of training text (1 MB each for valid and test), words drawn from a
 *                                  Zipf law (s = 1) over 250,000 distinct words, 20 words a line, seed 1
 *   CorpusMemory read DIR          Corpus.load as `train` does (vocab_min_count=3, WikiText's cut), then the process's peak RSS (VmHWM)
 *                                  beside what the ids themselves take (4 bytes a word)
 */
public final class CorpusMemory {
    static final int DISTINCT = 250_000;
    static final int WORDS_PER_LINE = 20;

    public static void main(String[] args) throws IOException {
        if (args.length == 3 && args[0].equals("generate")) {
            Path dir = Path.of(args[1]);
            Files.createDirectories(dir);
            long mb = Long.parseLong(args[2]);
            SplittableRandom random = new SplittableRandom(1);
            double[] cumulative = zipf(DISTINCT);
            write(dir.resolve("train.txt"), mb * 1_000_000, random, cumulative);
            write(dir.resolve("valid.txt"), 1_000_000, random, cumulative);
            write(dir.resolve("test.txt"), 1_000_000, random, cumulative);
        } else if (args.length == 2 && args[0].equals("read")) {
            Path dir = Path.of(args[1]);
            long bytes = 0;
            for (String f : new String[] {"train.txt", "valid.txt", "test.txt"}) bytes += Files.size(dir.resolve(f));
            long start = System.nanoTime();
            Corpus c = Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(0, 3)); // WikiText-103's cut
            double seconds = (System.nanoTime() - start) / 1e9;
            long words = (long) c.train().length + c.valid().length + c.test().length;
            ProcessMemory m = ProcessMemory.now();
            System.out.printf("text %.1f MB, %,d words (<eos> included), vocabulary %,d; read in %.1f s%n",
                    bytes / 1e6, words, c.vocabulary().size(), seconds);
            System.out.printf("ids %.1f MB; peak RSS %.1f MB; max heap %.0f MB%n",
                    words * 4 / 1e6, m.peakResidentBytes() / 1e6, Runtime.getRuntime().maxMemory() / 1e6);
        } else {
            System.err.println("usage: CorpusMemory generate DIR MB | CorpusMemory read DIR");
            System.exit(2);
        }
    }

    /** Cumulative probabilities of ranks 1..n under a Zipf law with exponent 1. */
    static double[] zipf(int n) {
        double[] c = new double[n];
        double sum = 0;
        for (int r = 0; r < n; r++) c[r] = sum += 1.0 / (r + 1);
        for (int r = 0; r < n; r++) c[r] /= sum;
        return c;
    }

    static void write(Path file, long bytes, SplittableRandom random, double[] cumulative) throws IOException {
        long written = 0;
        StringBuilder line = new StringBuilder();
        try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            while (written < bytes) {
                line.setLength(0);
                for (int i = 0; i < WORDS_PER_LINE; i++) {
                    int rank = java.util.Arrays.binarySearch(cumulative, random.nextDouble());
                    if (rank < 0) rank = Math.min(-rank - 1, cumulative.length - 1);
                    line.append(' ').append(word(rank));
                }
                line.append(" \n");
                out.append(line);
                written += line.length(); // the words are ASCII: one byte a char
            }
        }
    }

    /**
     * A word for a rank: the base-26 spelling of rank + 26³, four letters up to rank 439,400, so a
     * token with its space averages about 5 bytes, as WikiText-103's (540 MB for 103 M tokens).
     */
    static String word(int rank) {
        StringBuilder w = new StringBuilder();
        int r = rank + 26 * 26 * 26;
        do {
            w.append((char) ('a' + r % 26));
            r /= 26;
        } while (r > 0);
        return w.toString();
    }
}
