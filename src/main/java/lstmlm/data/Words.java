package lstmlm.data;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Reads a text file as a word sequence exactly like reader.py's {@code _read_words}:
 * {@code f.read().replace("\n", "<eos>").split()}.
 */
final class Words {
    static final String EOS = "<eos>";
    static final String UNK = "<unk>";

    private static final String WHERE_TO_GET_PTB =
            "Pass --data-path DIR pointing at a folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt, "
                    + "or run without --data-path to download it into data/ptb.";

    private Words() {}

    /** Feeds every word of the file to {@code action}; returns the word count (never 0). */
    static int forEach(Path file, Consumer<String> action) {
        int count = split(read(file), action);
        if (count == 0) {
            throw new DataException("PTB file has no words: " + file + ". " + WHERE_TO_GET_PTB);
        }
        return count;
    }

    static String read(Path file) {
        try {
            if (Files.size(file) == 0) {
                throw new DataException("PTB file is empty: " + file + ". " + WHERE_TO_GET_PTB);
            }
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new DataException("PTB file not found: " + file + ". " + WHERE_TO_GET_PTB, e);
        } catch (CharacterCodingException e) {
            throw new DataException("PTB file is not valid UTF-8 text: " + file + ". " + WHERE_TO_GET_PTB, e);
        } catch (IOException e) {
            throw new DataException("Cannot read PTB file " + file + " (" + e + "). " + WHERE_TO_GET_PTB, e);
        }
    }

    /**
     * Splits like Python's {@code text.replace("\n", "<eos>").split()}. A newline does not end a word:
     * it appends "<eos>" to whatever word is in progress ("a\nb" is the single word "a<eos>b"), which is
     * what the replace-then-split does. PTB lines end in " \n", so there every "<eos>" stands alone.
     */
    static int split(String text, Consumer<String> action) {
        int count = 0;
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            if (c != '\n' && isPythonSpace(c)) {
                i++;
                continue;
            }
            int start = i;
            boolean hasNewline = false;
            for (; i < n; i++) {
                c = text.charAt(i);
                if (c == '\n') {
                    hasNewline = true;
                } else if (isPythonSpace(c)) {
                    break;
                }
            }
            // Most words have no newline and can be cut out as they are.
            action.accept(hasNewline ? text.substring(start, i).replace("\n", EOS) : text.substring(start, i));
            count++;
        }
        return count;
    }

    /** Python's str.isspace: Java's whitespace plus the no-break spaces and NEL (U+0085). */
    private static boolean isPythonSpace(char c) {
        if (c <= ' ') {
            return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\u001c' && c <= '\u001f');
        }
        return c >= '\u0085' && (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085');
    }
}
