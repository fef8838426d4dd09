package lstmlm.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A training file read once into both its vocabulary and its ids. Words get provisional ids in first-seen
 * order while counting; after sorting by (−count, word) the provisional ids are renumbered. This gives the
 * same result as building the vocabulary and then reading the file again, in one pass instead of two.
 */
record TrainingText(Vocabulary vocabulary, int[] ids) {

    static TrainingText read(Path trainFile) {
        Map<String, Integer> firstSeenIds = new HashMap<>();
        List<String> firstSeenWords = new ArrayList<>();
        IntArrayBuilder counts = new IntArrayBuilder();
        IntArrayBuilder ids = new IntArrayBuilder();
        Words.forEach(trainFile, word -> {
            Integer id = firstSeenIds.get(word);
            if (id == null) {
                id = firstSeenWords.size();
                firstSeenIds.put(word, id);
                firstSeenWords.add(word);
                counts.add(0);
            }
            counts.increment(id);
            ids.add(id);
        });

        int[] count = counts.toArray();
        Integer[] byRank = new Integer[count.length];
        Arrays.setAll(byRank, i -> i);
        Arrays.sort(byRank, Comparator.<Integer>comparingInt(i -> -count[i]).thenComparing(firstSeenWords::get));

        int[] rankOf = new int[count.length];
        List<String> words = new ArrayList<>(count.length);
        for (int rank = 0; rank < byRank.length; rank++) {
            rankOf[byRank[rank]] = rank;
            words.add(firstSeenWords.get(byRank[rank]));
        }
        int[] text = ids.toArray();
        for (int i = 0; i < text.length; i++) {
            text[i] = rankOf[text[i]];
        }
        return new TrainingText(Vocabulary.of(words), text);
    }
}
