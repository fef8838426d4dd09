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

class PtbCorpusTest {
    @TempDir
    Path dir;

    @Test
    void unknownWordsBecomeUnk() throws IOException {
        Vocabulary vocab = Vocabulary.of(List.of("the", "<unk>", "<eos>", "cat"));
        Path file = Files.writeString(dir.resolve("valid.txt"), " the dog \n the cat \n");
        assertArrayEquals(new int[] {0, 1, 2, 0, 3, 2}, PtbCorpus.readIds(file, vocab));
    }

    @Test
    void unknownWordsWithoutUnkAreAnErrorNamingTheWordFileAndCount() throws IOException {
        Vocabulary vocab = Vocabulary.of(List.of("the", "<eos>"));
        Path file = Files.writeString(dir.resolve("valid.txt"), " the dog \n the cow \n the dog \n");
        DataException e = assertThrows(DataException.class, () -> PtbCorpus.readIds(file, vocab));
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
        DataException notFound = assertThrows(DataException.class, () -> PtbCorpus.readIds(missing, vocab));
        assertTrue(notFound.getMessage().startsWith("PTB file not found: " + missing + ". Pass --data-path DIR"),
                notFound.getMessage());
        Path empty = Files.writeString(dir.resolve("ptb.valid.txt"), "");
        DataException isEmpty = assertThrows(DataException.class, () -> PtbCorpus.readIds(empty, vocab));
        assertTrue(isEmpty.getMessage().contains(empty.toString()), isEmpty.getMessage());
    }

    @Test
    void loadsAllThreeSplitsWithTheTrainVocabulary() throws IOException {
        writeSplits(" a b a \n", " b a \n", " a \n");
        PtbCorpus corpus = PtbCorpus.load(dir);
        // counts: a 2, then <eos> and b tie at 1 and sort by String.compareTo
        assertEquals(List.of("a", "<eos>", "b"), corpus.vocabulary().words());
        assertArrayEquals(new int[] {0, 2, 0, 1}, corpus.train());
        assertArrayEquals(new int[] {2, 0, 1}, corpus.valid());
        assertArrayEquals(new int[] {0, 1}, corpus.test());
    }

    @Test
    void trainIdsFromTheSinglePassMatchReadingTheFileAgain() throws IOException {
        writeSplits(" z y x y \n w z z \n\n v x \n", " z \n", " y \n");
        PtbCorpus corpus = PtbCorpus.load(dir);
        assertArrayEquals(PtbCorpus.readIds(dir.resolve(PtbCorpus.TRAIN_FILE), corpus.vocabulary()), corpus.train());
        assertEquals(Vocabulary.build(dir.resolve(PtbCorpus.TRAIN_FILE)).words(), corpus.vocabulary().words());
    }

    @Test
    void loadFailsOnUnknownWordsWhenTrainHasNoUnk() throws IOException {
        writeSplits(" a b a \n", " b c \n", " a \n");
        DataException e = assertThrows(DataException.class, () -> PtbCorpus.load(dir));
        assertTrue(e.getMessage().contains("'c'"), e.getMessage());
    }

    @Test
    void missingFolderSaysHowToFixIt() {
        Path missing = dir.resolve("nowhere");
        DataException e = assertThrows(DataException.class, () -> PtbCorpus.load(missing));
        assertTrue(e.getMessage().contains("PTB data folder not found: " + missing), e.getMessage());
        assertTrue(e.getMessage().contains("--data-path"), e.getMessage());
    }

    @Test
    void missingSplitNamesThatFile() throws IOException {
        Files.writeString(dir.resolve(PtbCorpus.TRAIN_FILE), " a \n");
        Files.writeString(dir.resolve(PtbCorpus.VALID_FILE), " a \n");
        DataException e = assertThrows(DataException.class, () -> PtbCorpus.load(dir));
        assertTrue(e.getMessage().contains("PTB file not found: " + dir.resolve(PtbCorpus.TEST_FILE)), e.getMessage());
    }

    private void writeSplits(String train, String valid, String test) throws IOException {
        Files.writeString(dir.resolve(PtbCorpus.TRAIN_FILE), train);
        Files.writeString(dir.resolve(PtbCorpus.VALID_FILE), valid);
        Files.writeString(dir.resolve(PtbCorpus.TEST_FILE), test);
    }
}
