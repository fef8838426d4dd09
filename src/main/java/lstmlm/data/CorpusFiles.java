package lstmlm.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a corpus's three splits are: named directly ({@code --train/--valid/--test}), or found in a
 * folder laid out the way people's corpora come: Penn TreeBank's names, PyTorch's
 * word_language_model ({@code train.txt}, ...) or WikiText ({@code wiki.train.tokens}, ...).
 */
public record CorpusFiles(Path train, Path valid, Path test) {
    /** The layouts a folder may have, each a train, valid and test file name, tried in this order. */
    public static final List<List<String>> LAYOUTS = List.of(
            List.of("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
            List.of("train.txt", "valid.txt", "test.txt"),
            List.of("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"));

    static final String HOW_TO_POINT = "Pass --data-path DIR with ptb.{train,valid,test}.txt, {train,valid,test}.txt"
            + " or wiki.{train,valid,test}.tokens in it, or name the files with --train FILE --valid FILE --test FILE.";

    /** The split files of the first layout {@code dir} holds completely. */
    public static CorpusFiles in(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new DataException("Data folder not found: " + dir + ". " + HOW_TO_POINT);
        }
        List<String> partial = new ArrayList<>();
        for (List<String> layout : LAYOUTS) {
            Path train = dir.resolve(layout.get(0)), valid = dir.resolve(layout.get(1)), test = dir.resolve(layout.get(2));
            int present = (Files.isRegularFile(train) ? 1 : 0) + (Files.isRegularFile(valid) ? 1 : 0)
                    + (Files.isRegularFile(test) ? 1 : 0);
            if (present == 3) return new CorpusFiles(train, valid, test);
            if (present > 0) partial.add(String.join(", ", layout));
        }
        throw new DataException("No corpus in " + dir + (partial.isEmpty() ? ": it has none of the layouts' files"
                : ": it has only some of " + String.join(" / ", partial)) + ". " + HOW_TO_POINT);
    }

    /** The folder's layout, or the three files given: each must exist. */
    public static CorpusFiles of(Path train, Path valid, Path test) {
        for (Path p : List.of(train, valid, test)) {
            if (!Files.isRegularFile(p)) throw new DataException("Data file not found: " + p + ". " + HOW_TO_POINT);
        }
        return new CorpusFiles(train, valid, test);
    }
}
