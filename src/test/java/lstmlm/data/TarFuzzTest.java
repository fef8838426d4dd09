package lstmlm.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.fuzz.FuzzFiles;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * The download's archive from outside. {@link #tarEntries}: any bytes read by {@link TarReader} give
 * entries of sane sizes or its {@link TarReader.FormatException} (or the stream's EOF); never another
 * exception. {@link #ptbArchive}: any bytes, gzipped, installed by {@link PtbDownloader} either
 * install exactly the expected files or give a {@link DataException} and leave the target folder empty.
 */
public class TarFuzzTest {
    /** What the seeds' archives hold under data/, and so what the downloader in {@link #ptbArchive} expects. */
    static final Map<String, String> CONTENT = Map.of("ptb.train.txt", " the cat sat \n the dog \n", "ptb.valid.txt", " the cat \n");

    @FuzzTest(maxDuration = "10s")
    void tarEntries(byte[] bytes) throws IOException {
        TarReader tar = new TarReader(new ByteArrayInputStream(bytes));
        try {
            int entries = 0;
            for (TarReader.Entry e; (e = tar.next()) != null; entries++) {
                if (e.size() < 0 || e.name() == null) throw new AssertionError("entry " + e);
                if (entries % 2 == 0) tar.copyContent(OutputStream.nullOutputStream()); // and the others skipped
            }
        } catch (TarReader.FormatException | EOFException refused) {
            // the reader's own verdict on bad bytes
        }
    }

    @FuzzTest(maxDuration = "10s")
    void ptbArchive(byte[] bytes) throws IOException {
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(bytes);
        }
        Path archive = FuzzFiles.write("simple-examples.tgz", gz.toByteArray());
        Path target = FuzzFiles.folder("ptb");
        PtbDownloader downloader = new PtbDownloader(URI.create("http://example.invalid/simple-examples.tgz"), target,
                md5s(), new PrintStream(OutputStream.nullOutputStream()));
        try {
            downloader.install(archive);
        } catch (DataException refused) {
            try (var left = Files.list(target)) {
                if (left.findAny().isPresent()) throw new AssertionError("a refused archive left files in " + target);
            }
            return;
        }
        for (var e : CONTENT.entrySet()) {
            String got = Files.readString(target.resolve(e.getKey()), StandardCharsets.UTF_8);
            if (!got.equals(e.getValue())) throw new AssertionError(e.getKey() + " installed with other content");
        }
    }

    private static Map<String, String> md5s() {
        Map<String, String> md5 = new LinkedHashMap<>();
        for (String name : new String[]{"ptb.train.txt", "ptb.valid.txt"}) {
            try {
                md5.put(name, HexFormat.of().formatHex(MessageDigest.getInstance("MD5")
                        .digest(CONTENT.get(name).getBytes(StandardCharsets.UTF_8))));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        return md5;
    }
}
