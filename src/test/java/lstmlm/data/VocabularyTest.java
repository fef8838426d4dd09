package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VocabularyTest {
    @TempDir
    Path dir;

    @Test
    void ordersByCountThenAlphabetically() throws IOException {
        // counts: <eos> 3, b 3, a 2, c 2, <unk> 1, B 1 — ties broken by String.compareTo ("<" < "B" < "a")
        Path train = write("train.txt", " b a c \n b <unk> a \n c b B \n");
        Vocabulary vocab = Vocabulary.build(train);
        assertEquals(List.of("<eos>", "b", "a", "c", "<unk>", "B"), vocab.words());
        assertEquals(6, vocab.size());
        assertEquals(0, vocab.eosId());
        assertEquals(4, vocab.unkId());
        assertEquals(2, vocab.id("a"));
        assertEquals("c", vocab.word(3));
        assertEquals(-1, vocab.id("zebra"));
    }

    @Test
    void everyLineEndsWithEosEvenTouchingAWordOrBlank() throws IOException {
        // line by line, as PyTorch's reader: "x\n\n\n x x y \n" is x <eos> <eos> <eos> x x y <eos>
        // (TensorFlow's reader.py would glue "x<eos><eos><eos>" into one word; on PTB, whose lines end
        // in " \n", the two agree)
        Vocabulary vocab = Vocabulary.build(write("train.txt", "x\n\n\n x x y \n"));
        assertEquals(List.of("<eos>", "x", "y"), vocab.words());
    }

    @Test
    void splitsOnAllWhitespaceLikePythonSplitAndCrLfEndsALine() throws IOException {
        StringBuilder words = new StringBuilder();
        long count = Words.split(new java.io.StringReader("a\tb\r\nc\u00a0d\u0085e\u3000f  \nlast"),
                w -> words.append(w).append('|'));
        assertEquals(10, count);
        assertEquals("a|b|<eos>|c|d|e|f|<eos>|last|<eos>|", words.toString());
    }

    @Test
    void noUnkMeansMinusOne() {
        Vocabulary vocab = Vocabulary.of(List.of("the", "<eos>"));
        assertEquals(-1, vocab.unkId());
        assertEquals(1, vocab.eosId());
        assertEquals(-1, Vocabulary.of(List.of("the")).eosId());
    }

    @Test
    void ofKeepsTheGivenOrder() {
        Vocabulary vocab = Vocabulary.of(List.of("z", "<unk>", "a"));
        assertEquals(0, vocab.id("z"));
        assertEquals(1, vocab.unkId());
        assertEquals(List.of("z", "<unk>", "a"), vocab.words());
    }

    @Test
    void ofRejectsDuplicatesAndEmptyLists() {
        DataException e = assertThrows(DataException.class, () -> Vocabulary.of(List.of("a", "b", "a")));
        assertTrue(e.getMessage().contains("'a' twice (ids 0 and 2)"), e.getMessage());
        assertThrows(DataException.class, () -> Vocabulary.of(List.of()));
        assertThrows(DataException.class, () -> Vocabulary.of(List.of("a", "")));
    }

    @Test
    void wordsAreUnmodifiable() {
        Vocabulary vocab = Vocabulary.of(List.of("a"));
        assertThrows(UnsupportedOperationException.class, () -> vocab.words().add("b"));
    }

    @Test
    void missingTrainFileSaysHowToFixIt() {
        Path missing = dir.resolve("ptb.train.txt");
        DataException e = assertThrows(DataException.class, () -> Vocabulary.build(missing));
        assertTrue(e.getMessage().contains("Data file not found: " + missing), e.getMessage());
        assertTrue(e.getMessage().contains("--data-path"), e.getMessage());
    }

    @Test
    void emptyTrainFileIsAnError() throws IOException {
        Path empty = write("ptb.train.txt", "");
        DataException e = assertThrows(DataException.class, () -> Vocabulary.build(empty));
        assertTrue(e.getMessage().contains("Data file has no words: " + empty + " (it is empty)"), e.getMessage());
    }

    @Test
    void whitespaceOnlyTrainFileHasNoWords() throws IOException {
        Path blank = write("ptb.train.txt", "  \t ");
        DataException e = assertThrows(DataException.class, () -> Vocabulary.build(blank));
        assertTrue(e.getMessage().contains("no words: " + blank), e.getMessage());
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
