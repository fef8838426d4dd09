package lstmlm.data;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Word ↔ id mapping. Ids follow reader.py's {@code _build_vocab}: by descending count, ties by word. */
public final class Vocabulary {
    private final List<String> words;
    private final Map<String, Integer> ids;

    private Vocabulary(List<String> words, Map<String, Integer> ids) {
        this.words = words;
        this.ids = ids;
    }

    /** Builds the vocabulary of a training file: every distinct word, ordered by (−count, word). */
    public static Vocabulary build(Path trainFile) {
        return Corpus.buildVocabulary(trainFile, VocabularyLimits.NONE);
    }

    /** Rebuilds a vocabulary from its words in id order, e.g. as stored in a checkpoint. */
    public static Vocabulary of(List<String> wordsInIdOrder) {
        if (wordsInIdOrder.isEmpty()) {
            throw new DataException("Vocabulary is empty. Build it from a training file that has words, "
                    + "or check that the checkpoint's vocabulary was saved.");
        }
        Map<String, Integer> ids = HashMap.newHashMap(wordsInIdOrder.size());
        for (int id = 0; id < wordsInIdOrder.size(); id++) {
            String word = wordsInIdOrder.get(id);
            if (word == null || word.isEmpty()) {
                throw new DataException("Vocabulary word " + id + " is missing or empty. "
                        + "The vocabulary (e.g. in a checkpoint) is corrupt; rebuild it from the training file.");
            }
            Integer earlier = ids.putIfAbsent(word, id);
            if (earlier != null) {
                throw new DataException("Vocabulary has the word '" + word + "' twice (ids " + earlier + " and "
                        + id + "). The vocabulary (e.g. in a checkpoint) is corrupt; rebuild it from the training file.");
            }
        }
        return new Vocabulary(List.copyOf(wordsInIdOrder), ids);
    }

    public int size() {
        return words.size();
    }

    /** The id of {@code word}, or −1 when it is not in the vocabulary. */
    public int id(String word) {
        Integer id = ids.get(word);
        return id == null ? -1 : id;
    }

    public String word(int id) {
        return words.get(id);
    }

    /** The id of "&lt;unk&gt;", or −1 when this vocabulary has none. */
    public int unkId() {
        return id(Words.UNK);
    }

    /** The id of "&lt;eos&gt;", or −1 when this vocabulary has none. */
    public int eosId() {
        return id(Words.EOS);
    }

    /** All words in id order (unmodifiable). */
    public List<String> words() {
        return words;
    }
}
