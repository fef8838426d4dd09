package lstmlm.modelfile;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The header checksum rule written out from its documentation, independently of {@link HeaderChecksum}:
 * for tests that craft files (a header edited on purpose must be sealed again to reach the checks
 * behind the checksum) and as the reference the writer is compared with.
 */
public final class HeaderSeal {
    private static final String MARK = "\"header.sha256\":\"";

    private HeaderSeal() {}

    /**
     * {@code file} with its header.sha256 recomputed: SHA-256 of the 8-byte length field and the header,
     * the value's 64 characters read as '0'. The file must have the key.
     */
    public static byte[] reseal(byte[] file) {
        byte[] out = file.clone();
        long headerLen = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        int end = Math.toIntExact(8 + headerLen);
        String header = new String(out, 0, end, StandardCharsets.ISO_8859_1); // one char per byte: indices are offsets
        int at = header.indexOf(MARK, 8);
        if (at < 0) throw new IllegalArgumentException("no " + MARK + " in the header");
        at += MARK.length();
        for (int i = 0; i < 64; i++) out[at + i] = '0';
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(out, 0, end);
            byte[] hex = HexFormat.of().formatHex(sha.digest()).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(hex, 0, out, at, 64);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /**
     * {@code file} with tensors.sha256 set to the hash of its data and then its header resealed, where
     * the header has those keys in the form our writer writes; other bytes come back unchanged. What a
     * crafted file would carry, so that fuzzing reaches the checks behind the checksums.
     */
    public static byte[] sealBoth(byte[] file) {
        if (file.length < 8) return file;
        long headerLen = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (headerLen < 0 || headerLen > file.length - 8) return file;
        int end = (int) (8 + headerLen);
        byte[] out = file.clone();
        String header = new String(out, 0, end, StandardCharsets.ISO_8859_1);
        String dataMark = "\"tensors.sha256\":\"";
        int at = header.indexOf(dataMark, 8);
        if (at >= 0 && at + dataMark.length() + 64 <= end) {
            at += dataMark.length();
            try {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(out, end, out.length - end);
                byte[] hex = HexFormat.of().formatHex(sha.digest()).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(hex, 0, out, at, 64);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        int mark = new String(out, 0, end, StandardCharsets.ISO_8859_1).indexOf(MARK, 8);
        return mark >= 0 && mark + MARK.length() + 64 <= end ? reseal(out) : out;
    }

    /**
     * {@code file} with its 8-byte length field set to where the header's JSON object ends (its closing
     * brace and the spaces after it), when the field says otherwise: a mutation that inserts or deletes
     * header bytes then still yields a file whose header parses, so fuzzing reaches the checks of the
     * values inside (huge shapes, odd offsets) rather than stopping at "not valid JSON".
     */
    public static byte[] fixLength(byte[] file) {
        if (file.length < 9 || file[8] != '{') return file;
        int depth = 0, close = -1;
        boolean inString = false;
        for (int i = 8; i < file.length && close < 0; i++) {
            byte b = file[i];
            if (inString) {
                if (b == '\\') i++;
                else if (b == '"') inString = false;
            } else if (b == '"') {
                inString = true;
            } else if (b == '{' || b == '[') {
                depth++;
            } else if ((b == '}' || b == ']') && --depth == 0) {
                close = i;
            }
        }
        if (close < 0) return file;
        int stop = close + 1;
        while (stop < file.length && file[stop] == ' ') stop++;
        long current = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (current >= close + 1 - 8 && current <= stop - 8) return file; // consistent: padding may end in data
        byte[] out = file.clone();
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, stop - 8);
        return out;
    }
}
