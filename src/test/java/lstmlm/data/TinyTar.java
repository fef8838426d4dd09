package lstmlm.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/** Writes small POSIX ustar archives for tests, so they need no tar binary. Long names go into the prefix field. */
final class TinyTar {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    TinyTar directory(String name) {
        writeHeader(name.endsWith("/") ? name : name + "/", 0, '5');
        return this;
    }

    TinyTar file(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8));
    }

    TinyTar file(String name, byte[] content) {
        writeHeader(name, content.length, '0');
        out.writeBytes(content);
        out.writeBytes(new byte[(512 - content.length % 512) % 512]);
        return this;
    }

    byte[] tar() {
        ByteArrayOutputStream copy = new ByteArrayOutputStream();
        copy.writeBytes(out.toByteArray());
        copy.writeBytes(new byte[1024]); // two zero blocks end the archive
        return copy.toByteArray();
    }

    byte[] tgz() {
        ByteArrayOutputStream compressed = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
            gzip.write(tar());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return compressed.toByteArray();
    }

    private void writeHeader(String path, long size, char type) {
        byte[] h = new byte[512];
        String name = path;
        String prefix = "";
        if (path.length() > 100) {
            int slash = path.lastIndexOf('/', path.length() - 2);
            prefix = path.substring(0, slash);
            name = path.substring(slash + 1);
        }
        put(h, 0, name);
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", size));
        put(h, 136, "00000000000");
        h[156] = (byte) type;
        put(h, 257, "ustar");           // followed by NUL: POSIX ustar
        put(h, 263, "00");
        put(h, 345, prefix);
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        int sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o", sum));
        h[154] = 0;
        out.writeBytes(h);
    }

    private static void put(byte[] header, int offset, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(bytes, 0, header, offset, bytes.length);
    }
}
