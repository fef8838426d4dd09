package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TarReaderTest {
    private static final String LONG_DIR = "simple-examples/" + "a-rather-long-directory-name/".repeat(4) + "data";

    @TempDir
    Path dir;

    @Test
    void readsNamesSizesAndContentAcrossPadding() throws IOException {
        byte[] exactBlock = filled(512, 'x');
        byte[] overBlock = filled(513, 'y');
        byte[] tar = new TinyTar()
                .directory("simple-examples")
                .file("simple-examples/empty.txt", "")
                .file("simple-examples/block.txt", exactBlock)
                .file(LONG_DIR + "/ptb.valid.txt", overBlock)
                .file("simple-examples/last.txt", "end")
                .tar();
        Map<String, byte[]> entries = readAll(new ByteArrayInputStream(tar));
        assertEquals(4, entries.size()); // the directory entry is not a regular file
        assertArrayEquals(new byte[0], entries.get("simple-examples/empty.txt"));
        assertArrayEquals(exactBlock, entries.get("simple-examples/block.txt"));
        assertTrue(LONG_DIR.length() + 14 > 100, "name must need the ustar prefix field");
        assertArrayEquals(overBlock, entries.get(LONG_DIR + "/ptb.valid.txt"));
        assertArrayEquals("end".getBytes(StandardCharsets.UTF_8), entries.get("simple-examples/last.txt"));
    }

    @Test
    void skipsUnreadContent() throws IOException {
        byte[] tar = new TinyTar().file("a", filled(1000, 'a')).file("b", "bee").tar();
        TarReader reader = new TarReader(new ByteArrayInputStream(tar));
        assertEquals(new TarReader.Entry("a", 1000, true), reader.next());
        TarReader.Entry b = reader.next();
        assertEquals("b", b.name());
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        reader.copyContent(content);
        assertEquals("bee", content.toString(StandardCharsets.UTF_8));
        assertNull(reader.next());
    }

    @Test
    void marksDirectoriesAsNotRegular() throws IOException {
        TarReader reader = new TarReader(new ByteArrayInputStream(new TinyTar().directory("d").tar()));
        assertFalse(reader.next().regularFile());
    }

    @Test
    void rejectsBytesThatAreNotTar() {
        byte[] garbage = filled(1024, 'g');
        assertThrows(TarReader.FormatException.class, () -> new TarReader(new ByteArrayInputStream(garbage)).next());
    }

    @Test
    void rejectsTruncatedArchives() {
        byte[] tar = new TinyTar().file("a", filled(2000, 'a')).tar();
        byte[] cut = Arrays.copyOf(tar, 1000);
        assertThrows(TarReader.FormatException.class, () -> readAll(new ByteArrayInputStream(cut)));
    }

    /** Archives made by the real tar in each format it can write, with a name too long for the name field. */
    @ParameterizedTest
    @ValueSource(strings = {"ustar", "gnu", "pax"})
    void readsArchivesMadeByTheTarCommand(String format) throws Exception {
        Path source = Files.createDirectories(dir.resolve("src").resolve(LONG_DIR));
        byte[] content = filled(700, 'p');
        Files.write(source.resolve("ptb.train.txt"), content);
        Path archive = dir.resolve(format + ".tar");
        assumeTrue(runTar("--format=" + format, "-cf", archive.toString(), "-C", dir.resolve("src").toString(),
                "simple-examples"), "needs GNU tar");
        Map<String, byte[]> entries = readAll(Files.newInputStream(archive));
        assertArrayEquals(content, entries.get(LONG_DIR + "/ptb.train.txt"), "entries: " + entries.keySet());
    }

    private static boolean runTar(String... args) throws InterruptedException {
        String[] command = new String[args.length + 1];
        command[0] = "tar";
        System.arraycopy(args, 0, command, 1, args.length);
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            process.getInputStream().readAllBytes();
            return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static Map<String, byte[]> readAll(InputStream in) throws IOException {
        Map<String, byte[]> entries = new TreeMap<>();
        try (in) {
            TarReader reader = new TarReader(in);
            for (TarReader.Entry entry; (entry = reader.next()) != null; ) {
                if (entry.regularFile()) {
                    ByteArrayOutputStream content = new ByteArrayOutputStream();
                    reader.copyContent(content);
                    assertEquals(entry.size(), content.size());
                    entries.put(entry.name(), content.toByteArray());
                }
            }
        }
        return entries;
    }

    private static byte[] filled(int length, char c) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) c);
        return bytes;
    }
}
