package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    @TempDir
    Path dir;

    @Test
    void unknownWordsBecomeUnk() throws IOException {
        Vocabulary vocab = Vocabulary.of(List.of("the", "<unk>", "<eos>", "cat"));
        Path file = Files.writeString(dir.resolve("valid.txt"), " the dog \n the cat \n");
        assertArrayEquals(new int[] {0, 1, 2, 0, 3, 2}, Corpus.readIds(file, vocab));
    }

    @Test
    void unknownWordsWithoutUnkAreAnErrorNamingTheWordFileAndCount() throws IOException {
        Vocabulary vocab = Vocabulary.of(List.of("the", "<eos>"));
        Path file = Files.writeString(dir.resolve("valid.txt"), " the dog \n the cow \n the dog \n");
        DataException e = assertThrows(DataException.class, () -> Corpus.readIds(file, vocab));
        String message = e.getMessage();
        assertTrue(message.contains("'dog'"), message);
        assertTrue(message.contains(file.toString()), message);
        assertTrue(message.contains("has 3 words outside the vocabulary"), message);
        assertTrue(message.contains("<unk>"), message);
    }

    @Test
    void missingAndEmptyFilesNameTheFile() throws IOException {
        Vocabulary vocab = Vocabulary.of(List.of("<unk>"));
        Path missing = dir.resolve("ptb.test.txt");
        DataException notFound = assertThrows(DataException.class, () -> Corpus.readIds(missing, vocab));
        assertTrue(notFound.getMessage().startsWith("Data file not found: " + missing + ". Pass --data-path DIR"),
                notFound.getMessage());
        Path empty = Files.writeString(dir.resolve("ptb.valid.txt"), "");
        DataException isEmpty = assertThrows(DataException.class, () -> Corpus.readIds(empty, vocab));
        assertTrue(isEmpty.getMessage().contains(empty.toString()), isEmpty.getMessage());
    }

    @Test
    void loadsAllThreeSplitsWithTheTrainVocabulary() throws IOException {
        writeSplits(" a b a \n", " b a \n", " a \n");
        Corpus corpus = Corpus.load(dir);
        // counts: a 2, then <eos> and b tie at 1 and sort by String.compareTo
        assertEquals(List.of("a", "<eos>", "b"), corpus.vocabulary().words());
        assertArrayEquals(new int[] {0, 2, 0, 1}, corpus.train());
        assertArrayEquals(new int[] {2, 0, 1}, corpus.valid());
        assertArrayEquals(new int[] {0, 1}, corpus.test());
    }

    @Test
    void trainIdsFromTheSinglePassMatchReadingTheFileAgain() throws IOException {
        writeSplits(" z y x y \n w z z \n\n v x \n", " z \n", " y \n");
        Corpus corpus = Corpus.load(dir);
        assertArrayEquals(Corpus.readIds(dir.resolve("ptb.train.txt"), corpus.vocabulary()), corpus.train());
        assertEquals(Vocabulary.build(dir.resolve("ptb.train.txt")).words(), corpus.vocabulary().words());
    }

    @Test
    void loadFailsOnUnknownWordsWhenTrainHasNoUnk() throws IOException {
        writeSplits(" a b a \n", " b c \n", " a \n");
        DataException e = assertThrows(DataException.class, () -> Corpus.load(dir));
        assertTrue(e.getMessage().contains("'c'"), e.getMessage());
    }

    @Test
    void missingFolderSaysHowToFixIt() {
        Path missing = dir.resolve("nowhere");
        DataException e = assertThrows(DataException.class, () -> Corpus.load(missing));
        assertTrue(e.getMessage().contains("Data folder not found: " + missing), e.getMessage());
        assertTrue(e.getMessage().contains("--data-path"), e.getMessage());
    }

    @Test
    void aFolderWithPartOfALayoutSaysWhichAndHowToFixIt() throws IOException {
        Files.writeString(dir.resolve("ptb.train.txt"), " a \n");
        Files.writeString(dir.resolve("ptb.valid.txt"), " a \n");
        DataException e = assertThrows(DataException.class, () -> Corpus.load(dir));
        assertTrue(e.getMessage().contains("has only some of ptb.train.txt, ptb.valid.txt, ptb.test.txt"), e.getMessage());
        assertTrue(e.getMessage().contains("--train FILE --valid FILE --test FILE"), e.getMessage());
    }

    @Test
    void theVocabularyCapAndMinimumCountCutTheRarestWordsIntoUnk() throws IOException {
        // counts: a 5, b 4, c 3, <eos> 3, d 2, e 1, f 1
        writeSplits(" a a a a a b b b b \n c c c d d \n e f \n", " a f g \n", " b \n");
        // at most 5 words, <unk> included: a, b, <eos> and c (3 each, "<" sorts first), and <unk> standing for
        // d, e, f with 2 + 1 + 1 = 4, which ties b and sorts before it
        Corpus capped = Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(5, 1));
        assertEquals(List.of("a", "<unk>", "b", "<eos>", "c"), capped.vocabulary().words());
        assertArrayEquals(new int[]{0, 0, 0, 0, 0, 2, 2, 2, 2, 3, 4, 4, 4, 1, 1, 3, 1, 1, 3}, capped.train());
        assertArrayEquals(new int[]{0, 1, 1, 3}, capped.valid(), "f was cut and g was never seen: both <unk>");
        // words seen fewer than 3 times: d, e, f become <unk> (count 4); no cap
        Corpus counted = Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(0, 3));
        assertEquals(List.of("a", "<unk>", "b", "<eos>", "c"), counted.vocabulary().words());
        // no limits: every word, and no <unk> unless the text has one (TensorFlow's reader)
        assertEquals(List.of("a", "b", "<eos>", "c", "d", "e", "f"),
                Corpus.buildVocabulary(dir.resolve("ptb.train.txt"), VocabularyLimits.NONE).words());
        // an existing <unk> absorbs what is cut
        writeSplits(" a a <unk> b \n", " a \n", " a b \n");
        assertEquals(List.of("<unk>", "a", "<eos>"), Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(3, 1)).vocabulary().words());
        // <eos> is never cut, though rarer than the minimum count or last in rank (found by fuzzing)
        writeSplits(" a a a a \n b \n", " a \n", " a b \n");
        assertEquals(List.of("a", "<eos>", "<unk>"), Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(0, 3)).vocabulary().words());
        writeSplits(" a a a a a a b b b b b c c c c \n", " a \n", " a b \n");
        assertEquals(List.of("<unk>", "a", "<eos>"), Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(3, 1)).vocabulary().words());
    }

    @Test
    void aVocabularyTooSmallToTrainNamesTheKeys() throws IOException {
        writeSplits(" a a b \n", " a \n", " a \n");
        DataException one = assertThrows(DataException.class, () -> Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(1, 1)));
        assertTrue(one.getMessage().contains("vocab_max_size=1"), one.getMessage());
        DataException few = assertThrows(DataException.class, () -> Corpus.load(CorpusFiles.in(dir), new VocabularyLimits(0, 99)));
        assertTrue(few.getMessage().contains("vocab_min_count=99") && few.getMessage().contains("too few"), few.getMessage());
    }

    @Test
    void aSplitWithNoKnownWordAndAFileWithNoWordsAreErrorsNamingTheFile() throws IOException {
        writeSplits(" a b <unk> \n", " x y z \n", " a \n");
        DataException unknown = assertThrows(DataException.class, () -> Corpus.load(dir));
        assertTrue(unknown.getMessage().contains("None of the words of " + dir.resolve("ptb.valid.txt")), unknown.getMessage());
        writeSplits(" a b \n", "\n\n  \n", " a \n");
        DataException blank = assertThrows(DataException.class, () -> Corpus.load(dir));
        assertTrue(blank.getMessage().contains("has no words: " + dir.resolve("ptb.valid.txt") + " (only blank lines)"),
                blank.getMessage());
    }

    @Test
    void crLfBlankLinesAndUnicodeReadAsLines() throws IOException {
        Files.writeString(dir.resolve("train.txt"), "Grüße aus Köln\r\n\r\nnaïve café\u00a0crème\r\nGrüße");
        Files.writeString(dir.resolve("valid.txt"), "café\n");
        Files.writeString(dir.resolve("test.txt"), "Köln\n");
        Corpus c = Corpus.load(dir);
        List<String> words = new java.util.ArrayList<>();
        for (int id : c.train()) words.add(c.vocabulary().word(id));
        assertEquals(List.of("Grüße", "aus", "Köln", "<eos>", "<eos>", "naïve", "café", "crème", "<eos>", "Grüße", "<eos>"), words);
    }

    @Test
    void theLayoutsPeopleHaveAreFound() throws IOException {
        for (List<String> layout : CorpusFiles.LAYOUTS) {
            Path d = Files.createDirectories(dir.resolve(layout.getFirst().replace('.', '_')));
            for (String name : layout) Files.writeString(d.resolve(name), " a b \n");
            CorpusFiles f = CorpusFiles.in(d);
            assertEquals(List.of(d.resolve(layout.get(0)), d.resolve(layout.get(1)), d.resolve(layout.get(2))),
                    List.of(f.train(), f.valid(), f.test()));
        }
    }

    private void writeSplits(String train, String valid, String test) throws IOException {
        Files.writeString(dir.resolve("ptb.train.txt"), train);
        Files.writeString(dir.resolve("ptb.valid.txt"), valid);
        Files.writeString(dir.resolve("ptb.test.txt"), test);
    }
}
