package lstmlm.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The three splits of a corpus as word ids, with the vocabulary built from the training split
 * (reader.py's {@code ptb_raw_data}: ids by descending count, ties by word), cut to the
 * {@link VocabularyLimits}. The files are streamed, each twice (count, then fill an array of the
 * exact size), so reading needs the ids and the vocabulary in memory and no copy of the text. The
 * arrays are shared, not copied: they are large and nobody should write them.
 */
public record Corpus(Vocabulary vocabulary, int[] train, int[] valid, int[] test) {

    /** The corpus in {@code dir} (any of {@link CorpusFiles#LAYOUTS}), every word kept. */
    public static Corpus load(Path dir) {
        return load(CorpusFiles.in(dir), VocabularyLimits.NONE);
    }

    public static Corpus load(CorpusFiles files, VocabularyLimits limits) {
        Vocabulary vocabulary = buildVocabulary(files.train(), limits);
        return new Corpus(vocabulary, readIds(files.train(), vocabulary), readIds(files.valid(), vocabulary),
                readIds(files.test(), vocabulary));
    }

    @Override
    public String toString() {
        return "Corpus[vocabulary=" + vocabulary.size() + " words, train=" + train.length
                + ", valid=" + valid.length + ", test=" + test.length + " tokens]";
    }

    /** A word and how often the training split has it. */
    private record Count(String word, long count) {}

    private static final Comparator<Count> BY_RANK = Comparator.comparingLong((Count c) -> -c.count())
            .thenComparing(Count::word);

    /**
     * The vocabulary of a training file: every word, ordered by (−count, word), cut to {@code limits}.
     * What is cut becomes {@code <unk>}, whose count is then its own plus all it stands for. {@code <eos>}
     * is never cut: it ends every line, and a model that cannot predict it cannot end a sentence (found
     * by fuzzing: vocab_min_count above its count dropped it).
     */
    public static Vocabulary buildVocabulary(Path trainFile, VocabularyLimits limits) {
        Map<String, long[]> counts = new HashMap<>();
        Words.forEach(trainFile, w -> counts.computeIfAbsent(w, k -> new long[1])[0]++);
        long[] unk = counts.remove(Words.UNK);
        List<Count> all = new ArrayList<>(counts.size());
        counts.forEach((w, c) -> all.add(new Count(w, c[0])));
        all.sort(BY_RANK);
        int budget = limits.maxSize() > 0 ? limits.maxSize() : Integer.MAX_VALUE;
        List<Count> kept = new ArrayList<>();
        long cut = 0;
        for (Count c : all) {
            if (c.count() >= limits.minCount() || c.word().equals(Words.EOS)) kept.add(c);
            else cut += c.count();
        }
        boolean needUnk = unk != null || cut > 0 || kept.size() > budget;
        int room = needUnk ? budget - 1 : budget;
        if (room < 1) {
            throw new DataException("vocab_max_size=" + limits.maxSize() + " leaves no room for a word besides <unk> in"
                    + " the vocabulary of " + trainFile + ": too few to train a language model. Raise vocab_max_size.");
        }
        while (kept.size() > room) {
            int last = kept.getLast().word().equals(Words.EOS) ? kept.size() - 2 : kept.size() - 1;
            cut += kept.remove(last).count();
        }
        if (needUnk) {
            kept.add(new Count(Words.UNK, (unk != null ? unk[0] : 0) + cut));
            kept.sort(BY_RANK);
        }
        if (kept.size() < 2 || kept.stream().allMatch(c -> c.word().equals(Words.EOS) || c.word().equals(Words.UNK))) {
            throw new DataException("The vocabulary of " + trainFile + " has only " + kept.size() + " word(s) "
                    + kept.stream().map(Count::word).toList() + " with vocab_max_size=" + limits.maxSize()
                    + " and vocab_min_count=" + limits.minCount() + ": too few to train a language model. Use a"
                    + " larger training file, raise vocab_max_size or lower vocab_min_count.");
        }
        List<String> words = new ArrayList<>(kept.size());
        for (Count c : kept) words.add(c.word());
        return Vocabulary.of(words);
    }

    /**
     * Reads a file as word ids, tokenised like {@link Words}. Words outside the vocabulary become
     * "&lt;unk&gt;". Without an "&lt;unk&gt;" they are an error: reader.py would silently drop them, which
     * hides a vocabulary that does not fit the data; so is a file none of whose words (but {@code <eos>})
     * the vocabulary knows.
     */
    public static int[] readIds(Path file, Vocabulary vocab) {
        int unkId = vocab.unkId(), eosId = vocab.eosId();
        long[] tally = new long[3]; // unknown, known other than <eos>, first-pass total
        String[] firstUnknown = new String[1];
        long n = Words.forEach(file, w -> {
            int id = vocab.id(w);
            if (id < 0) {
                if (tally[0]++ == 0) firstUnknown[0] = w;
            } else if (id != eosId) {
                tally[1]++;
            }
        });
        if (tally[0] > 0 && unkId < 0) {
            throw new DataException(file + " has " + tally[0] + " words outside the vocabulary (first: '" + firstUnknown[0]
                    + "') and the vocabulary has no <unk> to map them to. Use a vocabulary built from a training "
                    + "file that contains these words or <unk> (vocab_max_size or vocab_min_count add one), or replace"
                    + " rare words with <unk> in " + file + ".");
        }
        if (tally[1] == 0) {
            throw new DataException("None of the words of " + file + " is in the vocabulary built from the training"
                    + " split (first: '" + firstUnknown[0] + "'): is it the same language and tokenisation?");
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new DataException(file + " has " + n + " words; one split can have at most " + (Integer.MAX_VALUE - 8) + ".");
        }
        int[] ids = new int[(int) n];
        int[] at = new int[1];
        Words.forEach(file, w -> {
            int id = vocab.id(w);
            ids[at[0]++] = id >= 0 ? id : unkId;
        });
        if (at[0] != n) throw new DataException(file + " changed while it was read (" + n + " then " + at[0] + " words).");
        return ids;
    }

    /**
     * The vocabulary PyTorch's word_language_model builds ({@code data.Dictionary}): every word of the
     * files in the order it first appears, {@code <eos>} ending each line, no word cut.
     */
    public static Vocabulary inOrderOfAppearance(List<Path> files) {
        java.util.LinkedHashSet<String> words = new java.util.LinkedHashSet<>();
        for (Path f : files) Words.forEach(f, words::add);
        return Vocabulary.of(new ArrayList<>(words));
    }
}
