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
    void newlineGluesOntoATouchingWordLikeReaderPy() throws IOException {
        Vocabulary vocab = Vocabulary.build(write("train.txt", "x\n\n\n x x y \n"));
        // "x\n\n\n x" → "x<eos><eos><eos>" then "x": the newline glues onto a word that touches it,
        // exactly like Python's text.replace("\n", "<eos>").split()
        assertEquals(List.of("x", "<eos>", "x<eos><eos><eos>", "y"), vocab.words());
    }

    @Test
    void splitsOnAllWhitespaceLikePythonSplit() {
        StringBuilder words = new StringBuilder();
        int count = Words.split("a\tb\r\nc\u00a0d\u0085e\u3000f  ", w -> words.append(w).append('|'));
        assertEquals(6, count);
        assertEquals("a|b|<eos>c|d|e|f|", words.toString());
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
        assertTrue(e.getMessage().contains("PTB file not found: " + missing), e.getMessage());
        assertTrue(e.getMessage().contains("--data-path"), e.getMessage());
    }

    @Test
    void emptyTrainFileIsAnError() throws IOException {
        Path empty = write("ptb.train.txt", "");
        DataException e = assertThrows(DataException.class, () -> Vocabulary.build(empty));
        assertTrue(e.getMessage().contains("empty: " + empty), e.getMessage());
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
