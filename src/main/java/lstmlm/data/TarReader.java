package lstmlm.data;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads a tar stream entry by entry: 512-byte headers, octal (or base-256) sizes, content padded to 512.
 * Understands the three ways long names are stored: the ustar prefix field, GNU 'L' entries and pax 'x'
 * headers, because which one an archive uses depends on the tool that made it.
 */
final class TarReader {
    /** A member of the archive; {@code regularFile} is false for directories, links and the like. */
    record Entry(String name, long size, boolean regularFile) {}

    /** The bytes are not a (complete) tar archive, as opposed to an I/O failure. */
    static final class FormatException extends IOException {
        private static final long serialVersionUID = 1L;

        FormatException(String message) {
            super(message);
        }
    }

    private static final int BLOCK = 512;
    private static final int MAX_NAME_RECORD = 1 << 20;

    private final InputStream in;
    private final byte[] header = new byte[BLOCK];
    private long unreadContent;
    private long padding;

    TarReader(InputStream in) {
        this.in = in;
    }

    /** Moves to the next entry, skipping whatever is left of the current one; null at the end of the archive. */
    Entry next() throws IOException {
        String longName = null;
        while (true) {
            skipRestOfEntry();
            int read = in.readNBytes(header, 0, BLOCK);
            if (read == 0 || (read == BLOCK && isAllZero(header))) {
                return null;
            }
            if (read < BLOCK) {
                throw new FormatException("tar archive ends inside a header");
            }
            checkChecksum();
            long size = parseNumber(124, 12);
            unreadContent = size;
            padding = (BLOCK - size % BLOCK) % BLOCK;
            char type = (char) header[156];
            switch (type) {
                case 'L' -> longName = cString(readSmallContent(size));           // GNU long name of next entry
                case 'x' -> longName = paxPath(readSmallContent(size), longName); // pax header of next entry
                case 'g', 'K' -> { }                                              // global pax / long link: not needed
                default -> {
                    String name = longName != null ? longName : ustarName();
                    return new Entry(name, size, type == '0' || type == '\0' || type == '7');
                }
            }
        }
    }

    /** Copies the unread content of the current entry to {@code out}. */
    void copyContent(OutputStream out) throws IOException {
        byte[] buffer = new byte[1 << 16];
        while (unreadContent > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, unreadContent));
            if (n < 0) {
                throw new FormatException("tar archive ends inside an entry");
            }
            out.write(buffer, 0, n);
            unreadContent -= n;
        }
    }

    private void skipRestOfEntry() throws IOException {
        try {
            in.skipNBytes(unreadContent + padding);
        } catch (EOFException e) {
            throw new FormatException("tar archive ends inside an entry");
        }
        unreadContent = 0;
        padding = 0;
    }

    private byte[] readSmallContent(long size) throws IOException {
        if (size > MAX_NAME_RECORD) {
            throw new FormatException("tar name record of " + size + " bytes is implausibly large");
        }
        byte[] content = in.readNBytes((int) size);
        if (content.length < size) {
            throw new FormatException("tar archive ends inside an entry");
        }
        unreadContent = 0;
        return content;
    }

    private String ustarName() {
        String name = cString(header, 0, 100);
        // Only POSIX ustar ("ustar\0") has a prefix field; old GNU tar keeps other data at that offset.
        boolean posixUstar = header[257] == 'u' && header[258] == 's' && header[259] == 't'
                && header[260] == 'a' && header[261] == 'r' && header[262] == 0;
        String prefix = posixUstar ? cString(header, 345, 155) : "";
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    /** Pax records are "LEN key=value\n"; we only need "path". */
    private static String paxPath(byte[] records, String fallback) throws IOException {
        String path = fallback;
        int pos = 0;
        while (pos < records.length) {
            int space = pos;
            while (space < records.length && records[space] != ' ') {
                space++;
            }
            int length;
            try {
                length = Integer.parseInt(new String(records, pos, space - pos, StandardCharsets.US_ASCII));
            } catch (NumberFormatException e) {
                throw new FormatException("malformed pax header record");
            }
            // at least the digits, a space and the closing newline; found by fuzzing: a length that ended
            // at the space gave the record a negative length
            if (length < space - pos + 2 || pos + length > records.length || records[pos + length - 1] != '\n') {
                throw new FormatException("malformed pax header record");
            }
            String record = new String(records, space + 1, pos + length - space - 2, StandardCharsets.UTF_8);
            if (record.startsWith("path=")) {
                path = record.substring("path=".length());
            }
            pos += length;
        }
        return path;
    }

    private void checkChecksum() throws IOException {
        long stored = parseNumber(148, 8);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
        }
        if (sum != stored) {
            throw new FormatException("not a tar archive (header checksum mismatch)");
        }
    }

    /** Octal digits padded with spaces/NULs, or GNU base-256 when the top bit of the first byte is set. */
    private long parseNumber(int offset, int length) throws IOException {
        if ((header[offset] & 0x80) != 0) {
            long value = header[offset] & 0x7f;
            for (int i = offset + 1; i < offset + length; i++) {
                value = (value << 8) | (header[i] & 0xff);
            }
            return value;
        }
        long value = 0;
        int i = offset;
        int end = offset + length;
        while (i < end && (header[i] == ' ' || header[i] == 0)) {
            i++;
        }
        for (; i < end && header[i] != ' ' && header[i] != 0; i++) {
            int digit = header[i] - '0';
            if (digit < 0 || digit > 7) {
                throw new FormatException("not a tar archive (bad octal number in header)");
            }
            value = value * 8 + digit;
        }
        return value;
    }

    private static String cString(byte[] bytes) {
        return cString(bytes, 0, bytes.length);
    }

    private static String cString(byte[] bytes, int offset, int length) {
        int end = offset;
        while (end < offset + length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static boolean isAllZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }
}
