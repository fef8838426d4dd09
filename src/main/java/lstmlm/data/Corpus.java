package lstmlm.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * The three PTB splits as word ids, with the vocabulary built from the training split (reader.py's
 * {@code ptb_raw_data}). The arrays are shared, not copied: they are large and nobody should write them.
 */
public record PtbCorpus(Vocabulary vocabulary, int[] train, int[] valid, int[] test) {
    public static final String TRAIN_FILE = "ptb.train.txt";
    public static final String VALID_FILE = "ptb.valid.txt";
    public static final String TEST_FILE = "ptb.test.txt";
    public static final List<String> FILE_NAMES = List.of(TRAIN_FILE, VALID_FILE, TEST_FILE);

    public static PtbCorpus load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new DataException("PTB data folder not found: " + dir + ". Pass --data-path DIR pointing at a "
                    + "folder with " + String.join(", ", FILE_NAMES)
                    + ", or run without --data-path to download it into data/ptb.");
        }
        TrainingText train = TrainingText.read(dir.resolve(TRAIN_FILE));
        Vocabulary vocabulary = train.vocabulary();
        return new PtbCorpus(vocabulary, train.ids(),
                readIds(dir.resolve(VALID_FILE), vocabulary),
                readIds(dir.resolve(TEST_FILE), vocabulary));
    }

    @Override
    public String toString() {
        return "PtbCorpus[vocabulary=" + vocabulary.size() + " words, train=" + train.length
                + ", valid=" + valid.length + ", test=" + test.length + " tokens]";
    }

    /**
     * Reads a file as word ids, tokenised like {@link Vocabulary#build}. Words outside the vocabulary become
     * "&lt;unk&gt;". Without an "&lt;unk&gt;" they are an error: reader.py would silently drop them, which
     * hides a vocabulary that does not fit the data.
     */
    public static int[] readIds(Path file, Vocabulary vocab) {
        IdCollector collector = new IdCollector(vocab);
        Words.forEach(file, collector);
        if (collector.unknownCount > 0) {
            throw new DataException(file + " has " + collector.unknownCount
                    + " words outside the vocabulary (first: '" + collector.firstUnknown
                    + "') and the vocabulary has no <unk> to map them to. Use a vocabulary built from a training "
                    + "file that contains these words or <unk>, or replace rare words with <unk> in " + file + ".");
        }
        return collector.ids();
    }

    /** Grows an int[] of ids and tallies out-of-vocabulary words as they stream past. */
    private static final class IdCollector implements Consumer<String> {
        private final Vocabulary vocab;
        private final int unkId;
        private final IntArrayBuilder ids = new IntArrayBuilder();
        private int unknownCount;
        private String firstUnknown;

        IdCollector(Vocabulary vocab) {
            this.vocab = vocab;
            this.unkId = vocab.unkId();
        }

        @Override
        public void accept(String word) {
            int id = vocab.id(word);
            if (id < 0) {
                id = unkId;
                if (id < 0) {
                    if (unknownCount++ == 0) {
                        firstUnknown = word;
                    }
                    return;
                }
            }
            ids.add(id);
        }

        int[] ids() {
            return ids.toArray();
        }
    }
}
