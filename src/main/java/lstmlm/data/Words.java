package lstmlm.data;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Reads a text file as a stream of words, a line at a time: each line is split on whitespace and
 * ends with {@code <eos>}, as PyTorch's word_language_model reads a corpus ({@code line.split() +
 * ['<eos>']}). On Penn TreeBank, whose lines end in " \n", this is exactly TensorFlow's reader.py
 * ({@code f.read().replace("\n", "<eos>").split()}); elsewhere TF's would glue words to the
 * {@code <eos>} of a line that ends without a space ("a\nb" becomes "a<eos>b", a blank line
 * "<eos><eos>"), which no vocabulary wants. Whitespace is Python's {@code str.isspace} (Unicode
 * spaces, NEL, no-break spaces); "\r\n" ends a line like "\n"; a last line without a newline still
 * gets its {@code <eos>}. The file is decoded as strict UTF-8 in 64 KB blocks, never held whole.
 */
final class Words {
    static final String EOS = "<eos>";
    static final String UNK = "<unk>";

    private static final int BLOCK = 1 << 16;

    private Words() {}

    /**
     * Feeds every word of the file to {@code action}, in order; returns the word count ({@code <eos>}s
     * included). A file with no word but {@code <eos>} (empty, or blank lines only) is a {@link DataException}.
     */
    static long forEach(Path file, Consumer<String> action) {
        long count;
        long[] words = new long[1];
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            count = split(in, w -> {
                if (!w.equals(EOS)) words[0]++;
                action.accept(w);
            });
        } catch (NoSuchFileException e) {
            throw new DataException("Data file not found: " + file + ". " + CorpusFiles.HOW_TO_POINT, e);
        } catch (CharacterCodingException e) {
            throw new DataException("Data file is not valid UTF-8 text: " + file + " (" + e + "). Convert it to UTF-8.", e);
        } catch (IOException e) {
            throw new DataException("Cannot read data file " + file + " (" + e + "). " + CorpusFiles.HOW_TO_POINT, e);
        }
        if (words[0] == 0) {
            throw new DataException("Data file has no words: " + file + " (" + (count == 0 ? "it is empty"
                    : "only blank lines") + "). " + CorpusFiles.HOW_TO_POINT);
        }
        return count;
    }

    /** The words of {@code in}: each line's whitespace-separated words, then {@code <eos>}. */
    static long split(Reader in, Consumer<String> action) throws IOException {
        char[] block = new char[BLOCK];
        StringBuilder word = new StringBuilder();
        long count = 0;
        boolean lineOpen = false; // a line has started (any character) and not yet ended with \n
        for (int n; (n = in.read(block)) > 0; ) {
            for (int i = 0; i < n; i++) {
                char c = block[i];
                if (c == '\n') {
                    if (!word.isEmpty()) {
                        action.accept(word.toString());
                        word.setLength(0);
                        count++;
                    }
                    action.accept(EOS);
                    count++;
                    lineOpen = false;
                } else if (isPythonSpace(c)) {
                    if (!word.isEmpty()) {
                        action.accept(word.toString());
                        word.setLength(0);
                        count++;
                    }
                    lineOpen = true;
                } else {
                    word.append(c);
                    lineOpen = true;
                }
            }
        }
        if (!word.isEmpty()) {
            action.accept(word.toString());
            count++;
        }
        if (lineOpen) { // the last line had no newline: it still ends a sentence
            action.accept(EOS);
            count++;
        }
        return count;
    }

    /** Python's str.isspace: Java's whitespace plus the no-break spaces and NEL (U+0085). */
    static boolean isPythonSpace(char c) {
        if (c <= ' ') {
            return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\u001c' && c <= '\u001f');
        }
        return c >= '\u0085' && (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085');
    }
}
