package lstmlm.modelfile;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The checksum of a safetensors file's header, metadata {@code header.sha256}: SHA-256 (lower-case hex)
 * of the file's first 8 + N bytes (the length field and the N-byte JSON header) with the 64 characters
 * of its own value read as {@code '0'}. The value is the string right after the literal
 * {@code "header.sha256":"}; JSON escapes every quote inside a string, so that literal can only be the
 * key itself. With {@code tensors.sha256} (every byte after the header) it covers every byte of the file.
 *
 * <p>One definition for the writer, which hashes the header with the placeholder in place and then
 * fills it in, and the reader, which hashes what it finds with the value zeroed.
 */
final class HeaderChecksum {
    static final String KEY = "header.sha256";
    static final int HEX_DIGITS = 64;
    static final String PLACEHOLDER = "0".repeat(HEX_DIGITS);
    private static final byte[] MARK = ("\"" + KEY + "\":\"").getBytes(StandardCharsets.US_ASCII);

    private HeaderChecksum() {}

    /** Where the value's 64 characters start in {@code prefix} (length field + header), or -1 when there is no such key. */
    static int find(byte[] prefix) {
        outer:
        for (int i = 8; i + MARK.length + HEX_DIGITS <= prefix.length; i++) {
            for (int j = 0; j < MARK.length; j++) {
                if (prefix[i + j] != MARK[j]) continue outer;
            }
            return i + MARK.length;
        }
        return -1;
    }

    /** The checksum of {@code prefix} with its value (at {@code valueAt}) taken as 64 '0's. */
    static String compute(byte[] prefix, int valueAt) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        digest.update(prefix, 0, valueAt);
        digest.update(PLACEHOLDER.getBytes(StandardCharsets.US_ASCII));
        digest.update(prefix, valueAt + HEX_DIGITS, prefix.length - valueAt - HEX_DIGITS);
        return HexFormat.of().formatHex(digest.digest());
    }

    /** The value as written in {@code prefix} at {@code valueAt}. */
    static String stored(byte[] prefix, int valueAt) {
        return new String(prefix, valueAt, HEX_DIGITS, StandardCharsets.US_ASCII);
    }
}
