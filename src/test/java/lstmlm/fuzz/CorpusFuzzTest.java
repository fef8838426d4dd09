package lstmlm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.data.Corpus;
import lstmlm.data.CorpusFiles;
import lstmlm.data.DataException;
import lstmlm.data.VocabularyLimits;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Corpus files from outside: any bytes as train/valid/test text give a corpus whose ids all lie in its
 * vocabulary, or a {@link DataException} naming one of the files.
 *
 * <p>Input: byte 0 picks vocab_max_size (0 = no limit, else 2..33), byte 1 vocab_min_count (1..4),
 * the rest is the training text, then the validation and test texts after NUL bytes (when missing,
 * the training text serves).
 */
class CorpusFuzzTest {

    @FuzzTest(maxDuration = "10s")
    void corpusFiles(byte[] bytes) {
        if (bytes.length < 2) return;
        int maxSize = (bytes[0] & 31) == 0 ? 0 : 1 + (bytes[0] & 31);
        int minCount = 1 + (bytes[1] & 3);
        byte[][] parts = new byte[3][];
        int from = 2;
        for (int p = 0; p < 3; p++) {
            int nul = from;
            while (nul < bytes.length && bytes[nul] != 0) nul++;
            parts[p] = p == 2 ? Arrays.copyOfRange(bytes, from, bytes.length) : Arrays.copyOfRange(bytes, from, nul);
            from = Math.min(bytes.length, nul + 1);
        }
        if (parts[1].length == 0) parts[1] = parts[0];
        if (parts[2].length == 0) parts[2] = parts[0];
        Path train = FuzzFiles.write("train.txt", parts[0]), valid = FuzzFiles.write("valid.txt", parts[1]),
                test = FuzzFiles.write("test.txt", parts[2]);
        Corpus c;
        try {
            c = Corpus.load(CorpusFiles.of(train, valid, test), new VocabularyLimits(maxSize, minCount));
        } catch (DataException e) {
            String m = e.getMessage();
            if (m == null || !(m.contains(train.toString()) || m.contains(valid.toString()) || m.contains(test.toString()))) {
                throw new AssertionError("the error names none of the files: " + m, e);
            }
            return;
        }
        int v = c.vocabulary().size();
        if (v < 2) throw new AssertionError("a vocabulary of " + v + " words");
        if (maxSize > 0 && v > maxSize) throw new AssertionError(v + " words despite vocab_max_size " + maxSize);
        if (c.vocabulary().eosId() < 0) throw new AssertionError("no <eos> in " + c.vocabulary().words());
        for (int[] split : new int[][]{c.train(), c.valid(), c.test()}) {
            if (split.length == 0) throw new AssertionError("an empty split was accepted");
            for (int id : split) if (id < 0 || id >= v) throw new AssertionError("id " + id + " outside a vocabulary of " + v);
        }
    }
}
